import { describe, expect, it } from 'vitest';
import { distanceCorrelation } from '../../../common/distance-correlation.js';
import { gaussian, mulberry32 } from '../../../common/random.js';

const normal = gaussian(mulberry32(11));
const randoms = (k: number) => Float64Array.from({ length: k }, () => normal());

describe('distance correlation', () => {
  it('is 1 for a linear map of the input and near 0 for independent noise', () => {
    const n = 24;
    const x = randoms(n * 5);
    const z = Float64Array.from({ length: n * 3 }, (_, i) => {
      const row = Math.floor(i / 3);
      return 2 * x[row * 5] - x[row * 5 + 1] + 0.5 * (i % 3);
    });
    // z is one linear function of x (its other coordinates are constant): dependence, not identity.
    expect(distanceCorrelation(x, z, n).value).toBeGreaterThan(0.5);
    const scaled = Float64Array.from(x, (v) => 3 * v + 1);
    expect(distanceCorrelation(x, scaled, n).value).toBeCloseTo(1, 10);
    const many = 400;
    expect(distanceCorrelation(randoms(many * 4), randoms(many * 4), many).value).toBeLessThan(0.05);
  });

  it('has the gradient finite differences give', () => {
    const n = 7;
    const x = randoms(n * 4);
    const z = randoms(n * 3);
    const { gradient } = distanceCorrelation(x, z, n);
    const h = 1e-6;
    for (let i = 0; i < z.length; i++) {
      const up = Float64Array.from(z);
      const down = Float64Array.from(z);
      up[i] += h;
      down[i] -= h;
      const fd = (distanceCorrelation(x, up, n).value - distanceCorrelation(x, down, n).value) / (2 * h);
      expect(gradient[i]).toBeCloseTo(fd, 5);
    }
  });

  it('answers 0 with a zero gradient for activations without spread, and refuses a batch of 1', () => {
    const out = distanceCorrelation(randoms(8), new Float64Array(8), 4);
    expect(out.value).toBe(0);
    expect(out.gradient.every((v) => v === 0)).toBe(true);
    expect(() => distanceCorrelation([1], [1], 1)).toThrow(RangeError);
  });
});
