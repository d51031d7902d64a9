// Which enrolled devices train in a round. Seeded so that a federation's
// selections can be reproduced from its config alone, and mixed with the
// round number so consecutive rounds draw different subsets.
import { mulberry32, shuffle } from '../common/random.js';

/** A 32-bit seed for one round: the federation seed and the round number through a murmur3-style finalizer. */
export function roundSeed(seed: number, round: number): number {
  let h = (seed ^ Math.imul(round + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * min(count, enrolled) devices drawn without replacement. The input is sorted
 * first so the draw depends on who is enrolled, not on enrolment order or on
 * the order storage happens to return rows in.
 */
export function selectDevices(
  enrolled: readonly string[],
  count: number,
  seed: number,
  round: number,
): string[] {
  const pool = [...enrolled].sort();
  shuffle(pool, mulberry32(roundSeed(seed, round)));
  return pool.slice(0, Math.min(count, pool.length));
}
