// The aggregation half of the federated strategy, apart from any transport or
// storage: given a round's accepted updates as deltas from the round's
// starting version, the next version's delta, tensor by tensor, and what the
// strategy did (who it kept, what it clipped) for the round's record. The
// coordinator reads deltas from its storage; the baseline simulator from
// memory.
import type { RoundPrivacy, StrategyConfig } from '../protocol/federation.js';
import { addGaussian, normalStream, type Uniform } from './privacy/gaussian.js';
import { type ClipBound, clipNorm, clipScale } from './robust/clip.js';
import { multiKrum, PairwiseDistances } from './robust/krum.js';
import { coordinateMedian } from './robust/median.js';
import { trimmedMean } from './robust/trimmed-mean.js';

export interface ClientUpdate {
  deviceId: string;
  /** Its weight in means: the samples its server-side session observed, never a claim. */
  weight: number;
  /** L2 norm of its delta over every trainable. */
  norm: number;
}

export interface RoundUpdates {
  clients: readonly ClientUpdate[];
  /**
   * Every client's delta of one trainable, in `clients` order: coordinates
   * [from, to) when aggregating in slices, the whole tensor when they are
   * omitted.
   */
  deltas(name: string, from?: number, to?: number): Float32Array[];
}

/**
 * How the round is read: each trainable's size, and the most coordinates of a
 * tensor read per client at once. Every strategy is coordinate-separable once
 * its per-client scalars (clip scales, Krum's choice) are known, so slicing
 * bounds memory at clients × slice × 4 bytes whatever the tensors' size.
 */
export interface Slicing {
  sizes: ReadonlyMap<string, number>;
  slice: number;
}

export interface AggregationSummary {
  strategy: StrategyConfig['kind'];
  /** Clients whose update went into the version (Multi-Krum drops some). */
  kept: string[];
  /** Clients whose delta was scaled down to the bound. */
  clipped: string[];
  /** The clipping norm, for clipped FedAvg and DP-FedAvg. */
  bound: number | null;
  /** DP-FedAvg: the noise's standard deviation on the averaged delta, per coordinate. */
  noiseStd?: number | null;
  /** DP-FedAvg: the round's privacy ledger entry, added by whoever keeps the ledger. */
  privacy?: RoundPrivacy;
}

/** What some strategies need beyond the updates. */
export interface AggregateOptions {
  /** DP-FedAvg's fixed denominator: the clients a round selects. */
  expectedClients?: number;
  /** DP-FedAvg's noise source (a CSPRNG at the edge; seeded in simulations). */
  uniform?: Uniform;
}

export interface Aggregation {
  summary: AggregationSummary;
  /** The aggregated delta of one trainable. */
  delta(name: string): Float32Array;
}

/** Σ wᵢ·sᵢ·xᵢ / Σ wᵢ in float64, over the chosen clients (sᵢ a per-client scale). */
function weightedMean(
  deltas: readonly Float32Array[],
  weights: readonly number[],
  scales?: readonly number[],
): Float32Array {
  const size = deltas[0]?.length ?? 0;
  const acc = new Float64Array(size);
  let total = 0;
  deltas.forEach((d, c) => {
    const w = weights[c] * (scales?.[c] ?? 1);
    total += weights[c];
    for (let i = 0; i < size; i++) acc[i] += w * d[i];
  });
  if (!(total > 0)) throw new RangeError('the chosen clients carry no weight');
  return Float32Array.from(acc, (v) => v / total);
}

/** (Σ sᵢ·xᵢ + N(0, (std·m)²)) / m in float64: every client alike, the noise calibrated to the clip. */
function noisyClippedMean(
  deltas: readonly Float32Array[],
  scales: readonly number[],
  m: number,
  std: number,
  normal: () => number,
): Float32Array {
  const size = deltas[0]?.length ?? 0;
  const acc = new Float64Array(size);
  deltas.forEach((d, c) => {
    for (let i = 0; i < size; i++) acc[i] += scales[c] * d[i];
  });
  for (let i = 0; i < size; i++) acc[i] /= m;
  addGaussian(acc, std, normal);
  return Float32Array.from(acc);
}

function krumKeep(
  config: Extract<StrategyConfig, { kind: 'multi-krum' }>,
  n: number,
): { f: number; m: number } {
  const f = Math.floor(config.byzantine * n);
  const m = config.keep === undefined ? n - f : Math.ceil(config.keep * n);
  return { f, m: Math.max(1, Math.min(n, m)) };
}

/** Each slice's deltas of one trainable, in order (the whole tensor at once without slicing). */
function* parts(updates: RoundUpdates, name: string, slicing?: Slicing): Generator<Float32Array[]> {
  if (!slicing) {
    yield updates.deltas(name);
    return;
  }
  const size = slicing.sizes.get(name);
  if (size === undefined) throw new RangeError(`no size for trainable ${name}`);
  const step = Math.max(1, Math.floor(slicing.slice));
  for (let from = 0; from < size; from += step) yield updates.deltas(name, from, Math.min(size, from + step));
}

/** A coordinate-wise rule applied slice by slice, the slices' results laid end to end. */
function perCoordinate(
  updates: RoundUpdates,
  slicing: Slicing | undefined,
  rule: (deltas: Float32Array[]) => Float32Array,
): (name: string) => Float32Array {
  return (name) => {
    const results = [...parts(updates, name, slicing)].map(rule);
    if (results.length === 1) return results[0];
    const out = new Float32Array(results.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of results) {
      out.set(r, at);
      at += r.length;
    }
    return out;
  };
}

/**
 * Aggregates a round. `names` lists every trainable; Multi-Krum reads every
 * tensor once up front to score the clients, the others compute each tensor's
 * delta when asked for it. With `slicing`, no more than a slice of each
 * client's tensor is read at once.
 */
export function aggregate(
  config: StrategyConfig,
  updates: RoundUpdates,
  names: readonly string[],
  slicing?: Slicing,
  options: AggregateOptions = {},
): Aggregation {
  const { clients } = updates;
  if (clients.length === 0) throw new RangeError('no client updates to aggregate');
  const ids = clients.map((c) => c.deviceId);
  const weights = clients.map((c) => c.weight);
  const base: AggregationSummary = { strategy: config.kind, kept: ids, clipped: [], bound: null };
  const rule = (fn: (deltas: Float32Array[]) => Float32Array) => perCoordinate(updates, slicing, fn);
  switch (config.kind) {
    case 'fedavg':
      return { summary: base, delta: rule((d) => weightedMean(d, weights)) };
    case 'clipped-fedavg': {
      const c = clipNorm(
        config.bound as ClipBound,
        clients.map((x) => x.norm),
      );
      const scales = clients.map((x) => clipScale(x.norm, c));
      return {
        summary: { ...base, bound: c, clipped: ids.filter((_, i) => scales[i] < 1) },
        delta: rule((d) => weightedMean(d, weights, scales)),
      };
    }
    case 'dp-fedavg': {
      const m = options.expectedClients ?? clients.length;
      if (!(m > 0) || !options.uniform)
        throw new RangeError('DP-FedAvg needs expectedClients and a noise source');
      const normal = normalStream(options.uniform);
      const scales = clients.map((x) => clipScale(x.norm, config.clip));
      const noiseStd = (config.noiseMultiplier * config.clip) / m;
      return {
        summary: { ...base, bound: config.clip, clipped: ids.filter((_, i) => scales[i] < 1), noiseStd },
        delta: rule((d) => noisyClippedMean(d, scales, m, noiseStd, normal)),
      };
    }
    case 'median':
      return { summary: base, delta: rule(coordinateMedian) };
    case 'trimmed-mean':
      return { summary: base, delta: rule((d) => trimmedMean(d, config.trim)) };
    case 'multi-krum': {
      const distances = new PairwiseDistances(clients.length);
      for (const name of names) for (const part of parts(updates, name, slicing)) distances.add(part);
      const { f, m } = krumKeep(config, clients.length);
      const { kept } = multiKrum(distances, f, m);
      const keptWeights = kept.map((i) => weights[i]);
      return {
        summary: { ...base, kept: kept.map((i) => ids[i]) },
        delta: rule((all) =>
          weightedMean(
            kept.map((i) => all[i]),
            keptWeights,
          ),
        ),
      };
    }
  }
}

/** Whether a strategy needs every update until the round closes (all but plain FedAvg, which folds them in). */
export const keepsUpdates = (config: StrategyConfig): boolean => config.kind !== 'fedavg';
