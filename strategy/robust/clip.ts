// Norm-bounded FedAvg: each client's delta (its update minus the round's
// starting version) is scaled down to at most a bound C in L2 norm, then the
// clipped deltas are averaged by weight. A scaled or huge update moves the
// model no further than an honest one may. The bound is fixed, or adapts to
// the round: a quantile of the clients' norms times a multiplier, so honest
// updates pass unclipped while a minority cannot raise it.

export type ClipBound =
  | { kind: 'fixed'; norm: number }
  | { kind: 'adaptive'; quantile: number; multiplier: number };

/** The q-quantile of `values` (linear interpolation between order statistics). */
export function quantileOf(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** The round's clipping norm C. */
export function clipNorm(bound: ClipBound, norms: readonly number[]): number {
  return bound.kind === 'fixed' ? bound.norm : bound.multiplier * quantileOf(norms, bound.quantile);
}

/** The factor a delta of norm `norm` is scaled by: min(1, C / norm). */
export function clipScale(norm: number, c: number): number {
  return norm > c && norm > 0 ? c / norm : 1;
}
