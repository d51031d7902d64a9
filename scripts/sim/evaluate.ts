// Held-out accuracy of a published adapter version, computed in Node with
// onnxruntime-node: the device's head_forward and the Worker's tail_infer run
// back to back on the unquantized activation, with the version's trainables
// fed as graph inputs. This measures the model the federation produced, not
// the wire (which split inference already measures).
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { argmaxRows } from '../../common/predictions.js';
import { parseSafetensors } from '../../common/safetensors.js';
import { batchIndices, batchOf, type Dataset } from '../../datasets/index.js';
import type { Manifest, TrainingSpec } from '../../protocol/manifest.js';

const EVAL_BATCH = 500;

export interface Evaluator {
  /** Accuracy of the adapters (safetensors of every trainable) on the held-out images. */
  accuracy(adapters: Uint8Array): Promise<number>;
  release(): Promise<void>;
}

export async function createEvaluator(
  artifactsDir: string,
  manifest: Manifest & { training: TrainingSpec },
  dataset: Dataset,
  indices: Int32Array,
): Promise<Evaluator> {
  const { training } = manifest;
  const tailInfer = training.artifacts.tailInfer;
  if (!tailInfer)
    throw new Error(`${manifest.modelId} was built without the unsharded tail_infer.onnx the evaluator runs`);
  // onnxruntime-node fuses int4/int8 frozen weights into MatMulNBits that by
  // default quantizes its activations to int8 (accuracy level 4); the edge's
  // onnxruntime-web computes them in fp32. Level 0 scores what the edge runs.
  const options: ort.InferenceSession.SessionOptions = {
    extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
  };
  const head = await ort.InferenceSession.create(
    join(artifactsDir, training.artifacts.headForward.file),
    options,
  );
  const tail = await ort.InferenceSession.create(join(artifactsDir, tailInfer.file), options);
  // Gathered once: every version is scored on the same images.
  const batches = [...batchIndices(indices, EVAL_BATCH)].map((idx) => batchOf(dataset, idx));
  const classes = manifest.output.shape[manifest.output.shape.length - 1] as number;

  const feedsOf = (tensors: ReturnType<typeof parseSafetensors>, owner: 'head' | 'tail') => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of training.trainables.filter((t) => t.owner === owner)) {
      const t = tensors.get(spec.name);
      if (t?.dtype !== 'float32') throw new Error(`the adapters lack float32 ${spec.name}`);
      feeds[spec.name] = new ort.Tensor('float32', t.data, spec.shape);
    }
    return feeds;
  };

  return {
    async accuracy(adapters) {
      const tensors = parseSafetensors(adapters);
      const headFeeds = feedsOf(tensors, 'head');
      const tailFeeds = feedsOf(tensors, 'tail');
      let correct = 0;
      let total = 0;
      for (const batch of batches) {
        const pixels = new ort.Tensor('float32', batch.pixels, batch.shape);
        const cut = (await head.run({ ...headFeeds, [manifest.input.name]: pixels }))[
          manifest.cut.tensor.name
        ];
        const logits = (await tail.run({ ...tailFeeds, [manifest.cut.tensor.name]: cut }))[
          manifest.output.name
        ];
        const predicted = argmaxRows(logits.data as Float32Array, classes);
        for (let i = 0; i < batch.labels.length; i++) if (predicted[i] === batch.labels[i]) correct++;
        total += batch.labels.length;
      }
      return correct / total;
    },
    async release() {
      await Promise.all([head.release(), tail.release()]);
    },
  };
}
