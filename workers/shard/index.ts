// The entry point of a shard Worker script. A model's tail runs as a pipeline
// of shards, and shard i of every model runs in script `splitflare-shard-<i>`:
// Durable Objects of one script may share an isolate, so giving each shard a
// script of its own is what keeps any isolate to one shard's weights.
//
// Inference is stateless and goes to the entrypoint (Cloudflare scales its
// isolates with the load); training state lives in TailShard objects, one per
// client, round and shard, reached through the same entrypoint.
import { WorkerEntrypoint } from 'cloudflare:workers';
import { fail, ok, type RpcResult } from '../../durable-objects/rpc.js';
import type { ShardEnv } from '../../durable-objects/shard/tail-shard.js';
import { TailShard } from '../../durable-objects/shard/tail-shard.js';
import { ArtifactError, ArtifactStore } from '../../edge/artifacts.js';
import { type MemoryReport, memoryReport } from '../../edge/memory.js';
import { withSession } from '../../edge/sessions.js';
import { type Activation, runForward } from '../../edge/shard-runtime.js';
import type { ShardSpec, TrainableSpec } from '../../protocol/manifest.js';

export { TailShard };

export interface InferRequest {
  shard: ShardSpec;
  microBatch: number;
  /** Specs of this shard's trainables, and the values to run them with (a published version, or the initial ones). */
  specs: TrainableSpec[];
  values: Record<string, Float32Array>;
  input: Activation;
}

export class ShardEntrypoint extends WorkerEntrypoint<ShardEnv> {
  /** One forward pass of the shard: activation in, activation (or logits) out. */
  async infer(req: InferRequest): Promise<RpcResult<Activation>> {
    const store = new ArtifactStore(this.env.MODELS);
    const { shard } = req;
    try {
      const output = await withSession(
        shard.forward,
        () => store.bytes(shard.forward),
        (session) =>
          runForward(
            session,
            {
              shard,
              microBatch: req.microBatch,
              gradInput: '',
              specs: new Map(req.specs.map((s) => [s.name, s])),
              trainables: req.values,
            },
            req.input,
          ),
      );
      return ok(output);
    } catch (err) {
      if (err instanceof ArtifactError) return fail('unavailable', err.message, { retryAfter: 5 });
      throw err;
    }
  }

  /** The client's training state on this shard (see TailShard). */
  session(name: string): DurableObjectStub<TailShard> {
    return this.env.TAIL_SHARD.get(this.env.TAIL_SHARD.idFromName(name));
  }

  /** This isolate's memory: onnxruntime's heap and what JavaScript holds (the bench reads it). */
  memory(): MemoryReport {
    return memoryReport();
  }
}

export default {
  fetch(): Response {
    return Response.json({ name: 'splitflare-shard' });
  },
} satisfies ExportedHandler<ShardEnv>;
