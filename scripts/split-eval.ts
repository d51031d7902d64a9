// Split inference over real MNIST images, measured against the unsplit model:
// the job behind `npm start` and the end-to-end test.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { createSplitClient } from '../client-sdk/node.js';
import { argmaxRows } from '../common/predictions.js';
import {
  type Batch,
  batchIndices,
  batchOf,
  type ImageShape,
  loadMnist,
  resizeBatch,
  trainTestSplit,
} from '../datasets/index.js';
import type { Encoding } from '../protocol/encoding.js';
import { frameSize } from '../protocol/frame.js';
import { quantile, round } from './lib/stats.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

export interface EncodingResult {
  encoding: Encoding;
  /** Share of samples whose split prediction equals the unsplit model's. */
  agreement: number;
  /** Share of samples whose split prediction equals the label. */
  accuracy: number;
  bytes_per_sample: number;
  fp32_bytes_per_sample: number;
  head_ms_p50: number;
  roundtrip_ms_p50: number;
}

export interface SplitEvalOptions {
  baseUrl: string;
  modelId: string;
  encodings: Encoding[];
  samples: number;
  batchSize: number;
  /** The unsplit model the predictions are compared with; default artifacts/<modelId>/full.onnx. */
  reference?: string;
  /** The model's input size, when it is not MNIST's: digits are resized to it (datasets/resize.ts). */
  inputShape?: ImageShape;
  /** Budget of one request (the SDK's default is 30 s; a large model's first batch loads every shard). */
  timeoutMs?: number;
  onProgress?: (encoding: Encoding, done: number, total: number) => void;
}

/** Predictions of the unsplit model (onnxruntime-node, the same weights) on the same images. */
async function referencePredictions(
  reference: string,
  images: (idx: number[]) => Batch,
  indices: Int32Array,
): Promise<Int32Array> {
  const session = await ortNode.InferenceSession.create(reference);
  const out = new Int32Array(indices.length);
  let offset = 0;
  for (const idx of batchIndices(indices, 100)) {
    const batch = images(idx);
    const result = await session.run({
      [session.inputNames[0]]: new ortNode.Tensor('float32', batch.pixels, batch.shape),
    });
    out.set(
      argmaxRows(
        result[session.outputNames[0]].data as Float32Array,
        result[session.outputNames[0]].dims[1] as number,
      ),
      offset,
    );
    offset += idx.length;
  }
  await session.release();
  return out;
}

export async function evaluateSplit(options: SplitEvalOptions): Promise<EncodingResult[]> {
  const mnist = await loadMnist();
  const indices = trainTestSplit(mnist, { seed: 0 }).test.subarray(0, options.samples);
  const shape = options.inputShape;
  const images = (idx: number[]) => (shape ? resizeBatch(batchOf(mnist, idx), shape) : batchOf(mnist, idx));
  const reference = await referencePredictions(
    options.reference ?? join(ARTIFACTS, options.modelId, 'full.onnx'),
    images,
    indices,
  );
  const results: EncodingResult[] = [];
  for (const encoding of options.encodings) {
    const client = createSplitClient({
      baseUrl: options.baseUrl,
      modelId: options.modelId,
      encoding,
      timeoutMs: options.timeoutMs,
    });
    const manifest = await client.manifest();
    const cutPerSample = manifest.cut.tensor.shape.slice(1) as number[];
    let agree = 0;
    let correct = 0;
    let bytesUp = 0;
    let fp32Bytes = 0;
    let done = 0;
    const headMs: number[] = [];
    const roundTripMs: number[] = [];
    for (const idx of batchIndices(indices, options.batchSize)) {
      const batch = images(idx);
      const result = await client.infer({ pixels: batch.pixels, batch: idx.length });
      result.predictions.forEach((top, r) => {
        if (top[0].index === reference[done + r]) agree++;
        if (top[0].index === batch.labels[r]) correct++;
      });
      bytesUp += result.stats.bytesUp;
      fp32Bytes += frameSize([idx.length, ...cutPerSample], 'fp32', 'tensor');
      headMs.push(result.stats.headMs);
      roundTripMs.push(result.stats.roundTripMs);
      done += idx.length;
      options.onProgress?.(encoding, done, indices.length);
    }
    await client.close();
    results.push({
      encoding,
      agreement: round(agree / done, 4),
      accuracy: round(correct / done, 4),
      bytes_per_sample: round(bytesUp / done, 1),
      fp32_bytes_per_sample: round(fp32Bytes / done, 1),
      head_ms_p50: round(quantile(headMs, 0.5), 2),
      roundtrip_ms_p50: round(quantile(roundTripMs, 0.5), 2),
    });
  }
  return results;
}
