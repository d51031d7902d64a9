import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../../../common/random.js';
import { deviceDp, privatize, sideClip, tailDp } from '../../../protocol/secagg/distributed-dp.js';

describe('DP-FedAvg shared out to the devices', () => {
  it('keeps the joint clip: head and tail each get clip/√2', () => {
    expect(sideClip(2) ** 2 * 2).toBeCloseTo(4, 12);
    const tail = tailDp(2, 1.5);
    // The coordinator's noise on the tail, std = z'·clip', is still z·clip.
    expect(tail.noiseMultiplier * tail.clip).toBeCloseTo(1.5 * 2, 12);
  });

  it('clips a device delta to its bound and leaves a short one alone', () => {
    const dp = { clip: 1, noiseStd: 0 };
    const long = Float64Array.of(3, 4);
    expect(privatize(long, dp, () => 0)).toBe(5);
    expect([...long]).toEqual([0.6, 0.8].map((v) => expect.closeTo(v, 12)));
    const short = Float64Array.of(0.3, 0.4);
    privatize(short, dp, () => 0);
    expect([...short]).toEqual([0.3, 0.4]);
  });

  it('gives the sum of `threshold` devices the central noise (z·clip)² per value', () => {
    const clip = 0.8;
    const z = 1.2;
    const threshold = 4;
    const dp = deviceDp(clip, z, threshold);
    const normal = gaussian(mulberry32(3));
    const n = 20_000;
    const sum = new Float64Array(n);
    for (let d = 0; d < threshold; d++) {
      const x = new Float64Array(n);
      privatize(x, dp, normal);
      for (let i = 0; i < n; i++) sum[i] += x[i];
    }
    const variance = sum.reduce((a, v) => a + v * v, 0) / n;
    expect(variance / (z * clip) ** 2).toBeGreaterThan(0.96);
    expect(variance / (z * clip) ** 2).toBeLessThan(1.04);
  });
});
