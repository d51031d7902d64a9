// The main Worker's side of the tail pipeline: which binding reaches shard i,
// and a forward pass through every shard in turn. Requests overlap across
// shards: while shard 1 works on one request, shard 0 can start the next.
import type { RpcResult } from '../durable-objects/rpc.js';
import type { Manifest, TrainableSpec } from '../protocol/manifest.js';
import type { ShardEntrypoint } from '../workers/shard/index.js';
import type { Activation, TrainableValues } from './shard-runtime.js';

export type { Activation };

/** An env with the main Worker's bindings to the shard scripts: SHARD_0 … SHARD_<n-1> (wrangler.toml). */
export type ShardBindings = object;

const binding = (env: ShardBindings, i: number): unknown => (env as Record<string, unknown>)[`SHARD_${i}`];

export type ShardService = Service<ShardEntrypoint>;

/** How many shard scripts this deployment binds. */
export function shardSlots(env: ShardBindings): number {
  let n = 0;
  while (binding(env, n) !== undefined) n++;
  return n;
}

export function shardService(env: ShardBindings, index: number): ShardService {
  const service = binding(env, index);
  if (!service) throw new Error(`this deployment has no binding SHARD_${index}`);
  return service as ShardService;
}

/** Name of the TailShard object holding one client session's state on one shard (by the session object's id). */
export function shardSessionName(sessionId: string, shard: number): string {
  return `${sessionId}/shard${shard}`;
}

export function specsOf(manifest: Manifest, names: readonly string[]): TrainableSpec[] {
  const all = new Map((manifest.training?.trainables ?? []).map((t) => [t.name, t]));
  return names.map((n) => {
    const spec = all.get(n);
    if (!spec) throw new Error(`${manifest.modelId}: shard trainable ${n} is not in the manifest`);
    return spec;
  });
}

function subset(values: TrainableValues, names: readonly string[]): Record<string, Float32Array> {
  return Object.fromEntries(names.map((n) => [n, values[n]]));
}

/** The tail's output for a cut activation: one forward pass through every shard. */
export async function inferThroughPipeline(
  env: ShardBindings,
  manifest: Manifest,
  values: TrainableValues,
  activation: Activation,
): Promise<RpcResult<Activation>> {
  let x = activation;
  for (const shard of manifest.pipeline.shards) {
    const result: RpcResult<Activation> = await shardService(env, shard.index).infer({
      shard,
      microBatch: manifest.pipeline.microBatch,
      specs: specsOf(manifest, shard.trainables),
      values: subset(values, shard.trainables),
      input: x,
    });
    if (!result.ok) return result;
    x = result.value;
  }
  return { ok: true, value: x };
}
