// A baseline round's server side, with the federation's own rules: each
// offered update is admitted or refused as the Worker does (the sample count
// it claims must be what its session observed; every value within the
// federation's bound, and its delta's norm if one is set), and the admitted
// ones are aggregated by the strategy module over their deltas from the
// round's global version, weighted by the observed samples.
import { numel } from '../../../models/onnx/tensor.js';
import type { StrategyConfig, UpdateBound } from '../../../protocol/federation.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import { deltaNorm, refusal } from '../../../strategy/admit.js';
import { type AggregationSummary, aggregate, type ClientUpdate } from '../../../strategy/aggregate.js';
import type { Uniform } from '../../../strategy/privacy/gaussian.js';
import type { Params } from './model.js';

export interface RoundRules {
  strategy: StrategyConfig;
  bound: UpdateBound;
  /**
   * Weight by the claimed count and never refuse it: what a server without
   * sessions of its own would have to do, kept to show what verification buys.
   */
  unverified: boolean;
  /** DP-FedAvg's fixed denominator (the clients a round selects) and its seeded noise source. */
  expectedClients?: number;
  uniform?: Uniform;
}

export interface Offer {
  deviceId: string;
  params: Params;
  /** The sampleCount the update claims. */
  claimed: number;
  /** The samples the device's session observed (the tally's processed count). */
  observed: number;
}

export type RefusalCode = 'sample-count-mismatch' | 'value-out-of-bound' | 'norm-out-of-bound';

export type Verdict =
  | { accepted: true; weight: number; norm: number }
  | { accepted: false; code: RefusalCode; detail: string };

/** The offer's trainables as the strategy module reads them, checked against the specs. */
function tensors(specs: readonly TrainableSpec[], params: Params): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const t = params[s.name];
    if (!t) throw new Error(`aggregate: the update lacks ${s.name}`);
    // A simulator bug, not an attack: every device here builds its update from the specs.
    if (t.data.length !== numel(s.shape)) {
      throw new RangeError(`aggregate: ${s.name} has ${t.data.length} values, expected ${numel(s.shape)}`);
    }
    out.set(s.name, t.data);
  }
  return out;
}

/** Admission of one offer: the count check first (the session's own record), then the bound. */
export function admit(
  rules: RoundRules,
  update: ReadonlyMap<string, Float32Array>,
  global: ReadonlyMap<string, Float32Array>,
  claimed: number,
  observed: number,
): Verdict {
  if (!rules.unverified && claimed !== observed) {
    return {
      accepted: false,
      code: 'sample-count-mismatch',
      detail: `claims ${claimed} samples, its session observed ${observed}`,
    };
  }
  const norm = deltaNorm(update, global);
  const refused = refusal(rules.bound, update, norm);
  if (refused) return { accepted: false, ...refused };
  return { accepted: true, weight: rules.unverified ? claimed : observed, norm };
}

export interface Refused {
  deviceId: string;
  code: RefusalCode;
}

export interface RoundAggregator {
  /** Admits or refuses one update; only admitted ones are aggregated. */
  offer(o: Offer): Verdict;
  readonly participants: number;
  /** Total weight of the admitted updates. */
  readonly samples: number;
  readonly refused: readonly Refused[];
  /** The next version and what the strategy did, or null when nothing was admitted. */
  result(): { params: Params; summary: AggregationSummary } | null;
}

export function roundAggregator(
  specs: readonly TrainableSpec[],
  global: Params,
  rules: RoundRules,
): RoundAggregator {
  const base = tensors(specs, global);
  const clients: ClientUpdate[] = [];
  const deltas: Array<Map<string, Float32Array>> = [];
  const refused: Refused[] = [];
  let samples = 0;
  return {
    offer(o) {
      const update = tensors(specs, o.params);
      const verdict = admit(rules, update, base, o.claimed, o.observed);
      if (!verdict.accepted) {
        refused.push({ deviceId: o.deviceId, code: verdict.code });
        return verdict;
      }
      const delta = new Map<string, Float32Array>();
      for (const [name, u] of update) {
        const g = base.get(name)!;
        delta.set(
          name,
          Float32Array.from(u, (x, i) => x - g[i]),
        );
      }
      clients.push({ deviceId: o.deviceId, weight: verdict.weight, norm: verdict.norm });
      deltas.push(delta);
      samples += verdict.weight;
      return verdict;
    },
    get participants() {
      return clients.length;
    },
    get samples() {
      return samples;
    },
    get refused() {
      return refused;
    },
    result() {
      if (clients.length === 0) return null;
      const names = specs.map((s) => s.name);
      const agg = aggregate(
        rules.strategy,
        { clients, deltas: (name) => deltas.map((d) => d.get(name)!) },
        names,
        undefined,
        { expectedClients: rules.expectedClients, uniform: rules.uniform },
      );
      const params: Params = {};
      for (const s of specs) {
        const g = base.get(s.name)!;
        const d = agg.delta(s.name);
        params[s.name] = { dims: [...s.shape], data: Float32Array.from(g, (x, i) => x + d[i]) };
      }
      return { params, summary: agg.summary };
    },
  };
}
