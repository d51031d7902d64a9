// One forward and backward pass of the tail on onnxruntime-web: the training
// graph takes the cut activation, the labels and the current tail trainables
// and returns the loss, the logits, one gradient per trainable and the
// gradient of the cut. The session is the isolate's cached one per artifact
// hash (workers/runtime/tail-sessions.ts).
import type { Tensor } from 'onnxruntime-web';
import type { DeployedModel } from '../../workers/registry.js';
import { loadOrt } from '../../workers/runtime/ort-wasm.js';
import { sessionFor } from '../../workers/runtime/tail-sessions.js';
import type { TailParams } from './trainables.js';

export interface TailTrainOutput {
  loss: number;
  logits: Float32Array;
  /** dL/d(cut activation), the activation's shape. */
  cutGrad: Float32Array;
  /** dL/d(trainable), keyed like TailParams.views. */
  grads: Record<string, Float32Array>;
}

export async function runTailTrain(
  model: DeployedModel,
  activation: { shape: readonly number[]; data: Float32Array },
  labels: Int32Array,
  params: TailParams,
): Promise<TailTrainOutput> {
  const training = model.manifest.training;
  if (!training || !model.training) throw new Error(`${model.manifest.modelId} has no training artifacts`);
  const ort = await loadOrt();
  const session = await sessionFor(training.artifacts.tailTrain.sha256, model.training.tailTrain);
  const cutName = model.manifest.cut.tensor.name;
  const feeds: Record<string, Tensor> = {
    [cutName]: new ort.Tensor('float32', activation.data, [...activation.shape]),
    [training.labels.name]: new ort.Tensor(
      'int64',
      BigInt64Array.from(labels, (y) => BigInt(y)),
      [labels.length],
    ),
  };
  for (const spec of params.specs) {
    feeds[spec.name] = new ort.Tensor('float32', params.views[spec.name], spec.shape);
  }
  const out = await session.run(feeds);
  try {
    const f32 = (name: string): Float32Array => {
      const t = out[name];
      if (!t || !(t.data instanceof Float32Array)) throw new Error(`tail_train has no float output ${name}`);
      // Output data was copied out of the WASM heap by ORT; keeping the array is not aliasing it.
      return t.data;
    };
    const grads: Record<string, Float32Array> = {};
    for (const spec of params.specs) grads[spec.name] = f32(`grad.${spec.name}`);
    return { loss: f32('loss')[0], logits: f32('logits'), cutGrad: f32(`grad.${cutName}`), grads };
  } finally {
    for (const t of Object.values(out)) t.dispose();
  }
}
