import { expect } from 'vitest';
import { mulberry32 } from '../../../common/random.js';

/** Params are float32, so hand-computed float64 values agree to about 1e-7 relative. */
export function expectClose(actual: Float32Array, expected: number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    expect(Math.abs(v - expected[i]), `element ${i}: ${v} vs ${expected[i]}`).toBeLessThan(tol);
  });
}

/** Seeded gradients for parameter set `sizes`, different each step. */
export function gradStream(sizes: Record<string, number>, seed: number) {
  const u = mulberry32(seed);
  return () =>
    Object.fromEntries(
      Object.entries(sizes).map(([n, size]) => [n, Float32Array.from({ length: size }, () => 2 * u() - 1)]),
    );
}

export function initialParams(sizes: Record<string, number>, seed = 99): Record<string, Float32Array> {
  const u = mulberry32(seed);
  return Object.fromEntries(
    Object.entries(sizes).map(([n, size]) => [n, Float32Array.from({ length: size }, () => u() - 0.5)]),
  );
}

export const cloneParams = (p: Record<string, Float32Array>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()]));
