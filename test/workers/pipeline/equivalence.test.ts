// The tail pipeline computes what the unsharded tail computes. vit-fashion is
// built three times (scripts/build-models.ts): as one shard, and forced into 2
// and 4 shards run in micro-batches of 3. Each is checked against the
// unsharded tail graphs (tail_infer, tail_train) run here, in the test's own
// isolate: logits, loss, the cut gradient and every adapter gradient within
// 1e-4 relative, through the real routes, sessions and shard Workers.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { sha256Hex } from '../../../common/digest.js';
import { parseSafetensors } from '../../../common/safetensors.js';
import type { RpcResult } from '../../../durable-objects/rpc.js';
import type { FinishValue, StepValue } from '../../../durable-objects/session/index.js';
import type { TrainValue } from '../../../durable-objects/shard/tail-shard.js';
import { loadOrt } from '../../../edge/ort-wasm.js';
import { shardService, shardSessionName } from '../../../edge/pipeline.js';
import { withSession } from '../../../edge/sessions.js';
import type { OptimizerConfig, Ticket } from '../../../protocol/federation.js';
import { decodeFrame, encodeFrame } from '../../../protocol/frame.js';
import { decodeStepAnswer, encodeStepRequest } from '../../../protocol/step.js';
import { relativeL2 } from '../../support/numeric.js';
import { postFrame } from '../helpers.js';
import { seededModel } from '../seeded.js';

const MODELS = ['vit-fashion', 'vit-fashion-2s', 'vit-fashion-4s'] as const;
const reference = seededModel('vit-fashion');
const training = reference.manifest.training!;
const tailSpecs = training.trainables.filter((t) => t.owner === 'tail');
const activation = { shape: samples.activationShape, data: Float32Array.from(samples.activation) };
const labels = Int32Array.from(samples.labels);
/** Plain gradient descent with rate 1: each trainable moves by exactly minus its gradient. */
const SGD1: OptimizerConfig = { kind: 'sgd', lr: 1, momentum: 0, weightDecay: 0 };

function initialTail(): Record<string, Float32Array> {
  const t = parseSafetensors(reference.bytes(training.artifacts.trainables));
  return Object.fromEntries(tailSpecs.map((s) => [s.name, (t.get(s.name)!.data as Float32Array).slice()]));
}

/** The unsharded tail's training graph on the whole batch. */
async function unsharded() {
  const ort = await loadOrt();
  const graph = training.artifacts.tailTrain!;
  return withSession(
    graph,
    async () => reference.bytes(graph),
    async (session) => {
      const params = initialTail();
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        [reference.manifest.cut.tensor.name]: new ort.Tensor('float32', activation.data, activation.shape),
        labels: new ort.Tensor(
          'int64',
          BigInt64Array.from(labels, (y) => BigInt(y)),
          [labels.length],
        ),
      };
      for (const s of tailSpecs) feeds[s.name] = new ort.Tensor('float32', params[s.name], s.shape);
      const out = await session.run(feeds);
      const f32 = (name: string) => (out[name].data as Float32Array).slice();
      return {
        loss: f32('loss')[0],
        logits: f32('logits'),
        cutGrad: f32(`grad.${reference.manifest.cut.tensor.name}`),
        grads: Object.fromEntries(tailSpecs.map((s) => [s.name, f32(`grad.${s.name}`)])),
      };
    },
  );
}

function ticketFor(modelId: string, deviceId: string): Ticket {
  return {
    federationId: 'fed-equivalence',
    deviceId,
    round: 0,
    version: 0,
    modelId,
    cut: 'embed',
    uplink: 'fp32',
    // fp32 both ways: the comparison is of the computation, not of the codec.
    downlink: 'fp32',
    batchSize: labels.length,
    localEpochs: 1,
    budgetBytes: 50_000_000,
    deadline: Date.now() + 3_600_000,
    headOptimizer: SGD1,
  };
}

describe.each(MODELS)('%s', (modelId) => {
  const { manifest } = seededModel(modelId);

  it('is built as the number of shards its name says, covering every tail trainable once', () => {
    const expected = modelId.endsWith('4s') ? 4 : modelId.endsWith('2s') ? 2 : 1;
    expect(manifest.pipeline.shards).toHaveLength(expected);
    expect(manifest.pipeline.shards.flatMap((s) => s.trainables).sort()).toEqual(
      tailSpecs.map((s) => s.name).sort(),
    );
  });

  it('infers the unsharded tail logits', async () => {
    const expected = (await unsharded()).logits;
    const res = await postFrame(`/v1/models/${modelId}/infer`, encodeFrame(activation, { encoding: 'fp32' }));
    expect(res.status).toBe(200);
    const { header, data } = decodeFrame(new Uint8Array(await res.arrayBuffer()));
    expect(header.shape).toEqual([labels.length, 10]);
    expect(relativeL2(data, expected)).toBeLessThan(1e-4);
  });

  it('trains one step as the unsharded tail: loss, logits, cut gradient and every adapter gradient', async () => {
    const expected = await unsharded();
    const deviceId = `eq-${modelId}-${Date.now().toString(36)}`;
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(`fed-equivalence/0/${deviceId}`));
    const tail = reference.bytes(training.artifacts.trainables);
    const init = await stub.init({ ticket: ticketFor(modelId, deviceId), tailOptimizer: SGD1, tail });
    expect(init.ok, JSON.stringify(init)).toBe(true);
    const body = encodeStepRequest({
      activation: encodeFrame(activation, { encoding: 'fp32' }),
      labels: Array.from(labels),
    });
    const step: RpcResult<StepValue> = await stub.step(0, body);
    if (!step.ok) throw new Error(`${step.problem}: ${step.detail}`);
    const answer = decodeStepAnswer(step.value.answer);
    expect(Math.abs(answer.loss - expected.loss) / expected.loss).toBeLessThan(1e-4);
    expect(relativeL2(decodeFrame(answer.frame).data, expected.cutGrad)).toBeLessThan(1e-4);

    // The last shard replays the step it committed: its logits are the training forward's.
    const last = manifest.pipeline.shards.length - 1;
    const shard = await shardService(env, last).session(shardSessionName(stub.id.toString(), last));
    const replay: RpcResult<TrainValue> = await shard.train(0, await sha256Hex(body), null, labels);
    if (!replay.ok) throw new Error(replay.detail);
    expect(relativeL2(replay.value.logits!.data, expected.logits)).toBeLessThan(1e-4);

    const finished: RpcResult<FinishValue> = await stub.finish();
    if (!finished.ok) throw new Error(finished.detail);
    const after = parseSafetensors(finished.value.tail);
    const before = initialTail();
    for (const s of tailSpecs) {
      const now = after.get(s.name)!.data as Float32Array;
      const grad = before[s.name].map((v, i) => v - now[i]);
      expect(relativeL2(grad, expected.grads[s.name]), s.name).toBeLessThan(1e-4);
    }
  });
});
