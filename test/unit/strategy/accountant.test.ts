import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  epsilonFromRdp,
  epsilonSpent,
  RDP_ORDERS,
  sampledGaussianRdp,
} from '../../../strategy/privacy/accountant.js';

/** ∫ f over [a, b] by composite Simpson's rule. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20_000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return (s * h) / 3;
}

const normalPdf = (x: number, mu: number, sigma: number) =>
  Math.exp(-((x - mu) ** 2) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI));

/** P[N(0,1) > x], by integrating the density (far enough out for δ ≈ 1e-5). */
const upperTail = (x: number) => simpson((t) => normalPdf(t, 0, 1), x, x + 40, 40_000);

/**
 * The exact δ(ε) of the Gaussian mechanism with sensitivity 1 and noise σ
 * (Balle and Wang 2018): Φ(−εσ + 1/(2σ)) − e^ε Φ(−εσ − 1/(2σ)).
 */
function gaussianDelta(epsilon: number, sigma: number): number {
  return (
    upperTail(epsilon * sigma - 1 / (2 * sigma)) -
    Math.exp(epsilon) * upperTail(epsilon * sigma + 1 / (2 * sigma))
  );
}

describe('the RDP accountant of the sampled Gaussian mechanism', () => {
  it('computes A_α as the α-th moment of the likelihood ratio (numerical integration, integer orders)', () => {
    for (const [q, z, alpha] of [
      [0.01, 1.1, 8],
      [0.2, 1.5, 4],
      [0.5, 2, 16],
      [0.05, 0.8, 3],
    ] as const) {
      // A_α = E_{x ~ N(0, z²)} [ ((1−q) + q·N(x;1,z²)/N(x;0,z²))^α ]
      const moment = simpson(
        (x) => normalPdf(x, 0, z) * (1 - q + (q * normalPdf(x, 1, z)) / normalPdf(x, 0, z)) ** alpha,
        -30 * z,
        30 * z + alpha,
        200_000,
      );
      expect(sampledGaussianRdp(q, z, alpha)).toBeCloseTo(Math.log(moment) / (alpha - 1), 6);
    }
  });

  it('reduces to the Gaussian mechanism without sampling: α / 2z²', () => {
    for (const alpha of [2, 7, 64])
      expect(sampledGaussianRdp(1, 1.3, alpha)).toBeCloseTo(alpha / (2 * 1.69), 12);
    expect(sampledGaussianRdp(0, 1.3, 5)).toBe(0);
  });

  it('never promises more than the exact Gaussian mechanism allows, and is within 30% of it', () => {
    // T unsampled rounds at multiplier z are one Gaussian at z/√T.
    for (const [z, rounds, delta] of [
      [1, 1, 1e-5],
      [4, 10, 1e-5],
      [10, 100, 1e-6],
      [2, 5, 1e-3],
    ] as const) {
      const eps = epsilonSpent(
        Array.from({ length: rounds }, () => ({ samplingRate: 1, noiseMultiplier: z })),
        delta,
      );
      const sigma = z / Math.sqrt(rounds);
      expect(gaussianDelta(eps, sigma)).toBeLessThanOrEqual(delta);
      expect(gaussianDelta(eps / 1.3, sigma)).toBeGreaterThan(delta);
    }
  });

  it('matches the published DP-SGD example (q = 256/60000, z = 1.1, 60 epochs, δ = 1e-5: ε ≈ 2.9 with the older conversion)', () => {
    const steps = Math.round((60 * 60000) / 256);
    const eps = epsilonSpent(
      Array.from({ length: steps }, () => ({ samplingRate: 256 / 60000, noiseMultiplier: 1.1 })),
      1e-5,
    );
    // The tighter conversion gives a little less than the 2.92 reported with log(1/δ)/(α−1).
    expect(eps).toBeGreaterThan(2.3);
    expect(eps).toBeLessThan(2.92);
  });

  it('spends more with more rounds, a higher rate or less noise', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 0.9, noNaN: true }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        (q, z, t) => {
          const spend = (qq: number, zz: number, tt: number) =>
            epsilonSpent(
              Array.from({ length: tt }, () => ({ samplingRate: qq, noiseMultiplier: zz })),
              1e-5,
            );
          const e = spend(q, z, t);
          expect(spend(q, z, t + 1)).toBeGreaterThanOrEqual(e);
          expect(spend(Math.min(1, q * 1.5), z, t)).toBeGreaterThanOrEqual(e);
          expect(spend(q, z * 1.5, t)).toBeLessThanOrEqual(e);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('takes the best order and refuses nonsense', () => {
    const rdp = RDP_ORDERS.map((a) => a / 2);
    const best = epsilonFromRdp(rdp, RDP_ORDERS, 1e-5);
    for (const [i, a] of RDP_ORDERS.entries()) {
      expect(best.epsilon).toBeLessThanOrEqual(
        rdp[i] + Math.log((a - 1) / a) - (Math.log(1e-5) + Math.log(a)) / (a - 1) + 1e-12,
      );
    }
    expect(() => sampledGaussianRdp(0.1, 0, 2)).toThrow(RangeError);
    expect(() => sampledGaussianRdp(1.1, 1, 2)).toThrow(RangeError);
    expect(() => sampledGaussianRdp(0.1, 1, 1.5)).toThrow(RangeError);
    expect(() => epsilonFromRdp(rdp, RDP_ORDERS, 0)).toThrow(RangeError);
    expect(epsilonSpent([], 1e-5)).toBe(0);
  });
});
