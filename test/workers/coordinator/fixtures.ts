// Shared set-up for the coordinator tests: a small synthetic set of
// trainables (no model needed), seeded update values, and typed stubs.
import { env } from 'cloudflare:workers';
import { mulberry32 } from '../../../common/random.js';
import { encodeSafetensors, parseSafetensors } from '../../../common/safetensors.js';
import type { FederationCoordinator } from '../../../durable-objects/coordinator/index.js';
import type { RpcResult } from '../../../durable-objects/rpc.js';
import type { FederationConfigInput } from '../../../protocol/federation.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';

export const TRAINABLES: TrainableSpec[] = [
  { name: 'head.proj.lora_A', shape: [2, 3], owner: 'head', role: 'lora_A', base: 'head.proj' },
  { name: 'head.proj.lora_B', shape: [4, 2], owner: 'head', role: 'lora_B', base: 'head.proj' },
  { name: 'tail.fc.lora_A', shape: [2, 5], owner: 'tail', role: 'lora_A', base: 'tail.fc' },
  { name: 'tail.fc.lora_B', shape: [3, 2], owner: 'tail', role: 'lora_B', base: 'tail.fc' },
];

/** One tensor whose float64 accumulator (2.4 MB) needs two SQLite rows. */
export const LARGE_TRAINABLES: TrainableSpec[] = [
  ...TRAINABLES,
  { name: 'tail.norm.weight', shape: [300_000], owner: 'tail', role: 'full', base: 'tail.norm.weight' },
];

export function config(overrides: Partial<FederationConfigInput> = {}): FederationConfigInput {
  return {
    modelId: 'vit-mnist',
    rounds: 2,
    clientsPerRound: 2,
    quorum: 1,
    roundDeadlineSeconds: 3600,
    localEpochs: 1,
    batchSize: 8,
    uplink: 'int8',
    downlink: 'int8',
    budgetBytesPerRound: 1_000_000,
    headOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
    tailOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 },
    seed: 7,
    ...overrides,
  };
}

export type Values = Map<string, Float32Array>;

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Seeded values for every trainable. */
export function values(seed: number, trainables: readonly TrainableSpec[] = TRAINABLES): Values {
  const next = mulberry32(seed);
  return new Map(
    trainables.map((t) => [t.name, Float32Array.from({ length: numel(t.shape) }, () => next() * 2 - 1)]),
  );
}

/** safetensors of the given side's tensors (or every tensor) with the trainables' shapes. */
export function encode(
  vals: Values,
  side: 'head' | 'tail' | 'all',
  trainables: readonly TrainableSpec[] = TRAINABLES,
): Uint8Array {
  const tensors = new Map(
    trainables
      .filter((t) => side === 'all' || t.owner === side)
      .map((t) => [t.name, { dtype: 'float32' as const, dims: [...t.shape], data: vals.get(t.name)! }]),
  );
  return encodeSafetensors(tensors);
}

export function decode(bytes: Uint8Array): Values {
  const out: Values = new Map();
  for (const [name, t] of parseSafetensors(bytes)) out.set(name, t.data as Float32Array);
  return out;
}

export function coordinator(federationId: string): DurableObjectStub<FederationCoordinator> {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(federationId));
}

/** The value of a successful RPC result; fails the test with the problem otherwise. */
export function value<T>(result: RpcResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.problem}: ${result.detail}`);
  return result.value;
}

/** The problem slug of a failed RPC result. */
export function problem(result: RpcResult<unknown>): string {
  if (result.ok) throw new Error('expected a failure, got ok');
  return result.problem;
}

/** A created federation with `devices` enrolled (d0, d1, ...). */
export async function federation(
  id: string,
  options: {
    devices: number;
    config?: Partial<FederationConfigInput>;
    trainables?: TrainableSpec[];
    seed?: number;
  },
) {
  const trainables = options.trainables ?? TRAINABLES;
  const stub = coordinator(id);
  const initial = values(options.seed ?? 1, trainables);
  value(
    await stub.create({
      id,
      config: config(options.config),
      trainables,
      initial: encode(initial, 'all', trainables),
      cut: 'embed',
    }),
  );
  const devices = Array.from({ length: options.devices }, (_, i) => `d${i}`);
  for (const d of devices) value(await stub.enroll(d));
  return { stub, devices, initial, trainables };
}

let keys = 0;

/** A submit argument for `deviceId` with the given values on both sides. */
export function update(
  deviceId: string,
  round: number,
  vals: Values,
  sampleCount: number,
  options: {
    trainables?: TrainableSpec[];
    key?: string;
    loss?: number;
    accuracy?: number;
    /** What the session counted; the claim by default. */
    observed?: number;
  } = {},
) {
  const trainables = options.trainables ?? TRAINABLES;
  return {
    deviceId,
    round,
    sampleCount,
    observedSamples: options.observed ?? sampleCount,
    head: encode(vals, 'head', trainables),
    tail: encode(vals, 'tail', trainables),
    metrics: { meanLoss: options.loss ?? 1, accuracy: options.accuracy ?? 0.5, steps: 3 },
    uplinkBytes: 1000,
    downlinkBytes: 500,
    idempotencyKey: options.key ?? `key-${++keys}`,
  };
}

/** The weighted mean computed directly in float64 from whole updates. */
export function weightedMean(updates: Array<{ vals: Values; n: number }>): Map<string, Float64Array> {
  const total = updates.reduce((s, u) => s + u.n, 0);
  const out = new Map<string, Float64Array>();
  for (const [name, first] of updates[0].vals) {
    const acc = new Float64Array(first.length);
    for (const u of updates) {
      const v = u.vals.get(name)!;
      for (let i = 0; i < acc.length; i++) acc[i] += u.n * v[i];
    }
    for (let i = 0; i < acc.length; i++) acc[i] /= total;
    out.set(name, acc);
  }
  return out;
}

export function maxAbsDiff(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  expectLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectLength(a: { length: number }, b: { length: number }) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
}

export const sleepUntil = (at: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, at - Date.now()) + 50));
