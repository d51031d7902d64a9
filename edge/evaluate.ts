// Scoring a model at the edge on labelled images: the head (the device's
// training forward graph, with the trainables' values) runs in shard script
// 0's isolate, the tail through the pipeline, in batches of the manifest's
// maximum. What an operator uses to decide whether a version is to be
// trusted (workers/routes/versions.ts) and what the coordinator holds a
// round's candidate to (durable-objects/coordinator).
import type { RpcResult } from '../durable-objects/rpc.js';
import type { Manifest, ShardSpec } from '../protocol/manifest.js';
import { inferThroughPipeline, type ShardBindings, shardService, specsOf } from './pipeline.js';
import type { Activation, TrainableValues } from './shard-runtime.js';

export interface EvaluationSet {
  /** n × the model's input shape, NCHW, normalized as manifest.preprocess says. */
  pixels: Float32Array;
  labels: Int32Array;
}

export interface Evaluation {
  samples: number;
  accuracy: number;
  /** Mean cross-entropy. */
  meanLoss: number;
}

/** The head as a one-stage pipeline: its training forward graph, taking the head trainables as inputs. */
function headStage(manifest: Manifest): ShardSpec {
  const training = manifest.training;
  if (!training) throw new Error(`${manifest.modelId} is not built for training`);
  return {
    index: 0,
    blocks: [],
    input: manifest.input,
    output: manifest.cut.tensor,
    forward: training.artifacts.headForward,
    trainables: training.trainables.filter((t) => t.owner === 'head').map((t) => t.name),
    plannedMiB: 0,
  };
}

function crossEntropy(logits: Float32Array, classes: number, row: number, label: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < classes; j++) max = Math.max(max, logits[row * classes + j]);
  let sum = 0;
  for (let j = 0; j < classes; j++) sum += Math.exp(logits[row * classes + j] - max);
  return Math.log(sum) + max - logits[row * classes + label];
}

export async function evaluateAtEdge(
  env: ShardBindings,
  manifest: Manifest,
  values: TrainableValues,
  set: EvaluationSet,
): Promise<RpcResult<Evaluation>> {
  const head = headStage(manifest);
  const perSample = manifest.input.shape
    .slice(1)
    .reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  const n = set.labels.length;
  const batch = manifest.wire.maxBatch;
  let correct = 0;
  let loss = 0;
  for (let at = 0; at < n; at += batch) {
    const rows = Math.min(batch, n - at);
    const input: Activation = {
      shape: [rows, ...(manifest.input.shape.slice(1) as number[])],
      data: set.pixels.subarray(at * perSample, (at + rows) * perSample),
    };
    const cut: RpcResult<Activation> = await shardService(env, 0).infer({
      shard: head,
      microBatch: manifest.pipeline.microBatch,
      specs: specsOf(manifest, head.trainables),
      values: Object.fromEntries(head.trainables.map((name) => [name, values[name]])),
      input,
    });
    if (!cut.ok) return cut;
    const out = await inferThroughPipeline(env, manifest, values, cut.value);
    if (!out.ok) return out;
    const classes = out.value.shape[out.value.shape.length - 1];
    for (let r = 0; r < rows; r++) {
      const label = set.labels[at + r];
      let best = 0;
      for (let j = 1; j < classes; j++) {
        if (out.value.data[r * classes + j] > out.value.data[r * classes + best]) best = j;
      }
      if (best === label) correct++;
      loss += crossEntropy(out.value.data, classes, r, label);
    }
  }
  return { ok: true, value: { samples: n, accuracy: correct / n, meanLoss: loss / n } };
}
