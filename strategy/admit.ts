// Whether an update may enter a round at all, before any strategy sees it:
// every value within the federation's magnitude bound, and its delta from the
// round's starting version within the norm bound if one is set. A refusal is
// the device's to fix (422), and nothing of it is kept.
import type { UpdateBound } from '../protocol/federation.js';

/** L2 norm of update − base over every trainable; both maps hold the same names. */
export function deltaNorm(
  update: ReadonlyMap<string, Float32Array>,
  base: ReadonlyMap<string, Float32Array>,
): number {
  let s = 0;
  for (const [name, u] of update) {
    const b = base.get(name);
    if (!b || b.length !== u.length) throw new RangeError(`no base of ${u.length} values for ${name}`);
    for (let i = 0; i < u.length; i++) {
      const d = u[i] - b[i];
      s += d * d;
    }
  }
  return Math.sqrt(s);
}

/** Why the update is refused, or null when it may enter. */
export function refusal(
  bound: UpdateBound,
  update: ReadonlyMap<string, Float32Array>,
  norm: number,
): { code: 'value-out-of-bound' | 'norm-out-of-bound'; detail: string } | null {
  for (const [name, values] of update) {
    for (let i = 0; i < values.length; i++) {
      if (Math.abs(values[i]) > bound.maxAbs) {
        return {
          code: 'value-out-of-bound',
          detail: `${name}[${i}] is ${values[i]}, beyond the federation's bound of ±${bound.maxAbs}`,
        };
      }
    }
  }
  if (bound.maxDeltaNorm !== undefined && norm > bound.maxDeltaNorm) {
    return {
      code: 'norm-out-of-bound',
      detail: `the update moves the adapters by ${norm.toPrecision(4)} (L2), beyond the bound of ${bound.maxDeltaNorm}`,
    };
  }
  return null;
}
