// One training step through the tail's shards, driven from the client's
// session: forward through every shard, the loss on the last, backward in
// reverse. Each shard steps its own adapters and commits before it answers
// (last shard first), and answers a step it has already committed from
// storage, so redoing a step that was interrupted halfway applies it once on
// every shard (see durable-objects/shard/tail-shard.ts).
import { type Activation, shardService, shardSessionName } from '../../edge/pipeline.js';
import type { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import type { Manifest, PipelineSpec } from '../../protocol/manifest.js';
import type { ParamSet } from '../params.js';
import { fail, ok, type RpcResult } from '../rpc.js';
import type { ForwardValue, TailShard, TrainValue } from '../shard/tail-shard.js';

export interface PipelineStepResult {
  loss: number;
  logits: Activation;
  /** dL/d(cut activation). */
  gradient: Activation;
}

type ShardStub = DurableObjectStub<TailShard>;

/**
 * The client's TailShard objects, named after the session object that owns
 * them. Each stub is awaited out of its shard's entrypoint: a pipelined
 * (un-awaited) stub answers only its first call.
 */
export async function shardStubs(
  env: object,
  sessionId: string,
  pipeline: PipelineSpec,
): Promise<ShardStub[]> {
  return Promise.all(
    pipeline.shards.map(
      async (s) =>
        (await shardService(env, s.index).session(
          shardSessionName(sessionId, s.index),
        )) as unknown as ShardStub,
    ),
  );
}

export async function pipelineStep(
  shards: readonly ShardStub[],
  seq: number,
  digest: string,
  activation: Activation,
  labels: Int32Array,
): Promise<RpcResult<PipelineStepResult>> {
  const last = shards.length - 1;
  let x: Activation | null = activation;
  // The first shard that had already committed this step, if the step is being redone.
  let committedFrom = last;
  for (let i = 0; i < last; i++) {
    const r: RpcResult<ForwardValue> = await shards[i].forward(seq, digest, x);
    if (!r.ok) return r;
    if (r.value.committed) {
      committedFrom = i;
      x = null;
      break;
    }
    x = r.value.output;
  }
  const tail: RpcResult<TrainValue> = await shards[last].train(seq, digest, x, labels);
  if (!tail.ok) return tail;
  const { loss, logits } = tail.value;
  if (loss === undefined || !logits) throw new Error('the last shard answered without a loss');
  let gradient = tail.value.gradInput;
  if (committedFrom < last) {
    const replayed: RpcResult<TrainValue> = await shards[committedFrom].backward(seq, digest, null);
    if (!replayed.ok) return replayed;
    gradient = replayed.value.gradInput;
  }
  for (let i = committedFrom - 1; i >= 0; i--) {
    const r: RpcResult<TrainValue> = await shards[i].backward(seq, digest, gradient);
    if (!r.ok) return r;
    gradient = r.value.gradInput;
  }
  return ok({ loss, logits, gradient });
}

/**
 * Sets up the tail's state on every shard for one owner (a device's session,
 * or a round's shared tail): the shard's trainables at the round's version
 * and its optimizer. A shard already set up for the same ticket answers as
 * before, so a join that failed halfway is simply redone.
 */
export async function initShards(
  env: object,
  ownerId: string,
  manifest: Manifest,
  ticket: Ticket,
  optimizer: OptimizerConfig,
  params: ParamSet,
): Promise<RpcResult<void>> {
  const training = manifest.training;
  if (!training) return fail('bad-request', `${manifest.modelId} is not built for training`);
  const specs = new Map(training.trainables.map((s) => [s.name, s]));
  const stubs = await shardStubs(env, ownerId, manifest.pipeline);
  const results: RpcResult<{ nextSeq: number }>[] = await Promise.all(
    manifest.pipeline.shards.map((shard, i) =>
      stubs[i].init({
        setup: {
          ticket,
          shard,
          microBatch: manifest.pipeline.microBatch,
          gradInput: manifest.pipeline.gradInput,
          labels: training.labels.name,
          last: i === manifest.pipeline.shards.length - 1,
          specs: shard.trainables.map((n) => specs.get(n)!),
          optimizer,
        },
        values: Object.fromEntries(shard.trainables.map((n) => [n, params.views[n]])),
      }),
    ),
  );
  const failed = results.find((r) => !r.ok);
  return failed && !failed.ok ? failed : ok(undefined);
}
