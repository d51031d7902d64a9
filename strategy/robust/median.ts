// Coordinate-wise median (Yin et al., 2018): each coordinate of the round's
// delta is the median of the clients' values, so fewer than half the clients
// cannot drag any coordinate outside the range of the honest ones. Unweighted:
// weighting by claimed size is exactly what an attacker would exploit.
import { eachColumn } from './order.js';

export function coordinateMedian(deltas: readonly Float32Array[]): Float32Array {
  return eachColumn(deltas, (sorted) => {
    const n = sorted.length;
    const mid = n >> 1;
    return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  });
}
