// Weighted FedAvg, streaming: each accepted update is folded into float64
// sums as it arrives, so the coordinator never holds every client's update at
// once and a round's result does not depend on who arrived first (beyond
// float64 rounding, far below float32's resolution).

/** acc[i] += weight · values[i]. */
export function accumulate(acc: Float64Array, values: Float32Array, weight: number): void {
  if (acc.length !== values.length) {
    throw new RangeError(`fedavg: accumulator has ${acc.length} elements, update has ${values.length}`);
  }
  if (!(weight > 0) || !Number.isFinite(weight))
    throw new RangeError(`fedavg: weight must be positive, got ${weight}`);
  for (let i = 0; i < acc.length; i++) acc[i] += weight * values[i];
}

/** The weighted mean acc / totalWeight, rounded once to float32. */
export function finalize(acc: Float64Array, totalWeight: number): Float32Array {
  if (!(totalWeight > 0) || !Number.isFinite(totalWeight)) {
    throw new RangeError(`fedavg: total weight must be positive, got ${totalWeight}`);
  }
  const out = new Float32Array(acc.length);
  for (let i = 0; i < acc.length; i++) out[i] = acc[i] / totalWeight;
  return out;
}
