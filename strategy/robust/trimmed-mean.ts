// Coordinate-wise trimmed mean (Yin et al., 2018): per coordinate, drop the k
// largest and k smallest client values, k = ⌊trim · n⌋, and average the rest.
// Tolerates up to k attackers per coordinate while keeping more of the honest
// signal than the median.
import { eachColumn } from './order.js';

/** The number of values cut from each end of a coordinate's n values. */
export function trimCount(n: number, trim: number): number {
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`trim must be in [0, 0.5), got ${trim}`);
  return Math.min(Math.floor(trim * n), Math.floor((n - 1) / 2));
}

export function trimmedMean(deltas: readonly Float32Array[], trim: number): Float32Array {
  const k = trimCount(deltas.length, trim);
  return eachColumn(deltas, (sorted) => {
    let sum = 0;
    for (let c = k; c < sorted.length - k; c++) sum += sorted[c];
    return sum / (sorted.length - 2 * k);
  });
}
