// Held-out accuracy of a forward model on onnxruntime-node.
import * as ort from 'onnxruntime-node';
import { argmaxRows } from '../../common/predictions.js';
import { batchIndices, batchOf, type Dataset } from '../../datasets/index.js';
import { encodeModel } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import type { Trainable } from './grad-session.js';

/**
 * Accuracy over `indices`. `extraFeeds` supplies graph inputs besides the
 * pixels (trainables that are inputs of an adapted model).
 */
export async function accuracy(
  model: ModelProto,
  ds: Dataset,
  indices: ArrayLike<number>,
  extraFeeds: Record<string, Trainable> = {},
  batchSize = 250,
): Promise<number> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  let correct = 0;
  try {
    for (const idx of batchIndices(indices, batchSize)) {
      const batch = batchOf(ds, idx);
      const feeds: Record<string, ort.Tensor> = {
        [input]: new ort.Tensor('float32', batch.pixels, batch.shape),
      };
      for (const [name, t] of Object.entries(extraFeeds))
        feeds[name] = new ort.Tensor('float32', t.data, t.dims);
      const logits = (await session.run(feeds))[output];
      const pred = argmaxRows(logits.data as Float32Array, logits.dims[1] as number);
      pred.forEach((p, r) => {
        if (p === batch.labels[r]) correct++;
      });
    }
  } finally {
    await session.release();
  }
  return correct / indices.length;
}
