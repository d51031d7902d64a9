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
  /** The lowest cosine similarity of a sample's split logits to the unsplit model's. */
  logits_cosine_min: number;
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

/** Logits of the unsplit model (onnxruntime-node, the same weights) on the same images, and their argmax. */
async function referenceLogits(
  reference: string,
  images: (idx: number[]) => Batch,
  indices: Int32Array,
): Promise<{ logits: Float32Array; classes: number; predicted: Int32Array }> {
  const session = await ortNode.InferenceSession.create(reference);
  const rows: Float32Array[] = [];
  let classes = 0;
  for (const idx of batchIndices(indices, 100)) {
    const batch = images(idx);
    const result = await session.run({
      [session.inputNames[0]]: new ortNode.Tensor('float32', batch.pixels, batch.shape),
    });
    const out = result[session.outputNames[0]];
    classes = out.dims[1] as number;
    rows.push((out.data as Float32Array).slice());
  }
  await session.release();
  const logits = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let at = 0;
  for (const r of rows) {
    logits.set(r, at);
    at += r.length;
  }
  return { logits, classes, predicted: argmaxRows(logits, classes) };
}

/** Cosine similarity of two rows. */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.max(Math.sqrt(aa * bb), 1e-30);
}

export async function evaluateSplit(options: SplitEvalOptions): Promise<EncodingResult[]> {
  const mnist = await loadMnist();
  const indices = trainTestSplit(mnist, { seed: 0 }).test.subarray(0, options.samples);
  const shape = options.inputShape;
  const images = (idx: number[]) => (shape ? resizeBatch(batchOf(mnist, idx), shape) : batchOf(mnist, idx));
  const reference = await referenceLogits(
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
    let cosineMin = 1;
    let bytesUp = 0;
    let fp32Bytes = 0;
    let done = 0;
    const headMs: number[] = [];
    const roundTripMs: number[] = [];
    for (const idx of batchIndices(indices, options.batchSize)) {
      const batch = images(idx);
      const result = await client.infer({ pixels: batch.pixels, batch: idx.length });
      const classes = reference.classes;
      result.predictions.forEach((top, r) => {
        if (top[0].index === reference.predicted[done + r]) agree++;
        if (top[0].index === batch.labels[r]) correct++;
        const mine = result.logits.subarray(r * classes, (r + 1) * classes);
        const theirs = reference.logits.subarray((done + r) * classes, (done + r + 1) * classes);
        cosineMin = Math.min(cosineMin, cosine(mine, theirs));
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
      logits_cosine_min: round(cosineMin, 6),
      accuracy: round(correct / done, 4),
      bytes_per_sample: round(bytesUp / done, 1),
      fp32_bytes_per_sample: round(fp32Bytes / done, 1),
      head_ms_p50: round(quantile(headMs, 0.5), 2),
      roundtrip_ms_p50: round(quantile(roundTripMs, 0.5), 2),
    });
  }
  return results;
}
