// Gathering examples into contiguous batches, the form the head session takes.
import type { Batch, Dataset } from './types.js';

export function batchOf(ds: Dataset, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const imageSize = ds.channels * ds.height * ds.width;
  const pixels = new Float32Array(n * imageSize);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
      throw new RangeError(`index ${i} is outside ${ds.name} (size ${ds.size})`);
    }
    pixels.set(ds.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
    labels[k] = ds.labels[i];
  }
  return { pixels, shape: [n, ds.channels, ds.height, ds.width], labels };
}

/** Consecutive slices of `indices` of at most `batchSize` (the last one may be shorter). */
export function* batchIndices(indices: ArrayLike<number>, batchSize: number): Generator<number[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size ${batchSize} must be >= 1`);
  for (let start = 0; start < indices.length; start += batchSize) {
    const end = Math.min(indices.length, start + batchSize);
    const slice: number[] = [];
    for (let i = start; i < end; i++) slice.push(indices[i]);
    yield slice;
  }
}
