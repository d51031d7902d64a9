// Per-coordinate order statistics over the clients' deltas of one tensor: the
// coordinate-wise median and trimmed mean read each coordinate's values across
// clients, sorted. One scratch column is reused for every coordinate.

/** Calls `fn(sorted, i)` with the n clients' values of coordinate i, ascending, for every coordinate. */
export function eachColumn(
  deltas: readonly Float32Array[],
  fn: (sorted: Float64Array, i: number) => number,
): Float32Array {
  const n = deltas.length;
  if (n === 0) throw new RangeError('no client updates to aggregate');
  const size = deltas[0].length;
  for (const d of deltas) {
    if (d.length !== size) throw new RangeError(`client deltas differ in size (${d.length} vs ${size})`);
  }
  const out = new Float32Array(size);
  const column = new Float64Array(n);
  for (let i = 0; i < size; i++) {
    for (let c = 0; c < n; c++) column[c] = deltas[c][i];
    column.sort();
    out[i] = fn(column, i);
  }
  return out;
}
