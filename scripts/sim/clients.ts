// Each simulated device's private data: its Dirichlet share of the train
// split, optionally capped, gathered into the contiguous tensors a trainer takes.
import type { LocalDataset } from '../../client-sdk/trainer/index.js';
import { batchOf, type Dataset } from '../../datasets/index.js';

/** Parts are already shuffled, so a cap keeps each client's label mix (in expectation). */
export function clientDatasets(ds: Dataset, parts: readonly Int32Array[], cap: number): LocalDataset[] {
  return parts.map((part) => {
    const kept = cap > 0 ? part.subarray(0, cap) : part;
    const batch = batchOf(ds, kept);
    return { pixels: batch.pixels, labels: batch.labels, size: kept.length };
  });
}
