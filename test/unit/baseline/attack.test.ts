import { describe, expect, it } from 'vitest';
import {
  COUNT_INFLATION,
  flipLabels,
  largeNorm,
  largeNormScale,
  maliciousDevices,
  signFlip,
  submission,
} from '../../../scripts/sim/baseline/attack.js';
import type { Params } from '../../../scripts/sim/baseline/model.js';
import { deltaNorm, refusal } from '../../../strategy/admit.js';

const p = (w: number[], b: number[]): Params => ({
  w: { dims: [w.length], data: Float32Array.from(w) },
  b: { dims: [b.length], data: Float32Array.from(b) },
});
const values = (x: Params) => [...x.w.data, ...x.b.data];
const asMap = (x: Params) => new Map(Object.entries(x).map(([n, t]) => [n, t.data] as const));

const global = p([1, -2, 0.5], [0, 3]);
const honest = p([1.5, -2.5, 0.5], [0.25, 3]);

describe('malicious devices', () => {
  it('are ⌊fraction × clients⌋ distinct devices, fixed by the seed', () => {
    const a = maliciousDevices(50, 0.2, 0);
    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 50)).toBe(true);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(maliciousDevices(50, 0.2, 0)).toEqual(a);
    expect(maliciousDevices(50, 0.2, 1)).not.toEqual(a);
    expect(maliciousDevices(7, 0.2, 0)).toHaveLength(1);
    expect(maliciousDevices(100, 0.29, 0)).toHaveLength(29);
    expect(maliciousDevices(50, 0, 0)).toEqual([]);
  });
});

describe('attack transforms', () => {
  it('sign-flip sends global − 4 × the honest delta', () => {
    expect(values(signFlip(global, honest))).toEqual([-1, 0, 0.5, -1, 3]);
    // The global it started from is not touched.
    expect(values(global)).toEqual([1, -2, 0.5, 0, 3]);
  });

  it('large-norm scales the honest delta as far as the bound lets every value through', () => {
    const { params, scale } = largeNorm(global, honest, 100);
    // w[0] reaches the bound first: 1 + s·0.5 = 100 at s = 198 (w[1]: −2 − s·0.5 = −100 at s = 196).
    expect(scale).toBeCloseTo(196, 3);
    expect(scale).toBeLessThan(196);
    const v = values(params);
    expect(v[1]).toBeCloseTo(-100, 2);
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(100);
    // Admitted by the federation's magnitude check, with a delta 196 times the honest one.
    const norm = deltaNorm(asMap(params), asMap(global));
    expect(refusal({ maxAbs: 100 }, asMap(params), norm)).toBeNull();
    expect(norm / deltaNorm(asMap(honest), asMap(global))).toBeCloseTo(196, 2);
  });

  it('large-norm stays within the bound for deltas of every size', () => {
    for (const d of [1e-7, 3e-3, 0.7, 40]) {
      const g = p([0.1, -99.5, 42], [7, -3]);
      const h = p([0.1 + d, -99.5, 42 - d], [7 + d / 3, -3]);
      const { params } = largeNorm(g, h, 100);
      expect(refusal({ maxAbs: 100 }, asMap(params), 0)).toBeNull();
    }
  });

  it('large-norm sends the honest update when there is no room to amplify', () => {
    expect(largeNormScale(global, global, 100)).toBe(1);
    expect(largeNormScale(p([99.9], []), p([100], []), 100)).toBe(1);
  });

  it('label-flip trains on 9 − y over ten classes, the pixels unchanged', () => {
    const data = { pixels: new Float32Array(8), labels: Int32Array.of(0, 3, 9, 5), size: 4 };
    const flipped = flipLabels(data, 10);
    expect(Array.from(flipped.labels)).toEqual([9, 6, 0, 4]);
    expect(flipped.pixels).toBe(data.pixels);
    expect([...data.labels]).toEqual([0, 3, 9, 5]);
  });

  it('only a malicious device attacks; inflated-count keeps its update and lies about its count', () => {
    expect(submission('sign-flip', false, global, honest, 40, 100)).toEqual({ params: honest, claimed: 40 });
    expect(submission('inflated-count', true, global, honest, 40, 100)).toEqual({
      params: honest,
      claimed: 40 * COUNT_INFLATION,
    });
    expect(submission('label-flip', true, global, honest, 40, 100)).toEqual({ params: honest, claimed: 40 });
    const flipped = submission('sign-flip', true, global, honest, 40, 100);
    expect(values(flipped.params)).toEqual(values(signFlip(global, honest)));
    expect(flipped).toMatchObject({ claimed: 40, scale: -4 });
    expect(submission('large-norm', true, global, honest, 40, 100).scale).toBeCloseTo(196, 3);
  });
});
