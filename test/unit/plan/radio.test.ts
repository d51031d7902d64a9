// The Shannon uplink (strategy/plan/radio.ts): its formulas against values
// worked by hand, and the least power, least share and best share against
// their definitions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dbmToW,
  lambertW0,
  leastPowerW,
  leastShare,
  pathGain,
  type RadioLink,
  type RadioPick,
  radioLink,
  radioPick,
  shannonRateBps,
  THERMAL_NOISE_W_PER_HZ,
} from '../../../strategy/plan/radio.js';

const links = fc.record({
  bandwidthHz: fc.double({ min: 1e5, max: 1e8, noNaN: true }),
  snrPerW: fc.double({ min: 1, max: 1e7, noNaN: true }),
  maxPowerW: fc.double({ min: 0.01, max: 2, noNaN: true }),
});

describe('Shannon uplink', () => {
  it('gives the rate, path loss and noise worked by hand', () => {
    // g/(N0·W) = 1e-10 / (1e-17 · 1e6) = 10 per watt; at half the band and 0.1 W the SNR is 2.
    const link = radioLink({ channelGain: 1e-10, maxPowerW: 1 }, { bandwidthHz: 1e6, noisePsdWPerHz: 1e-17 });
    expect(link.snrPerW).toBeCloseTo(10, 12);
    expect(shannonRateBps(link, 0.5, 0.1)).toBeCloseTo(0.5e6 * Math.log2(3), 6);
    expect(shannonRateBps(link, 0.5, 0.1)).toBeCloseTo(792_481.25, 1);
    expect(shannonRateBps(link, 0, 0.1)).toBe(0);
    // 128.1 dB at 1 km, 37.6 dB less per decade nearer.
    expect(pathGain(1000)).toBeCloseTo(10 ** -12.81, 25);
    expect(pathGain(100) / 10 ** -9.05).toBeCloseTo(1, 12);
    // −174 dBm/Hz = 10^−20.4 W/Hz.
    expect(THERMAL_NOISE_W_PER_HZ / 3.981_071_705_5e-21).toBeCloseTo(1, 9);
    expect(dbmToW(23)).toBeCloseTo(0.1995, 4);
    // 100 m from a 10 MHz cell: k = 10^−9.05 / (10^−20.4 · 10^7) ≈ 22,387 per watt. At a tenth
    // of the band and 0.2 W: 1 MHz · log2(1 + 44,774) ≈ 15.45 Mbit/s.
    const near = radioLink({ channelGain: pathGain(100), maxPowerW: 0.2 }, { bandwidthHz: 10e6 });
    expect(near.snrPerW).toBeCloseTo(22_387.2, 1);
    expect(shannonRateBps(near, 0.1, 0.2) / 15_450_419.4).toBeCloseTo(1, 8);
    // 10 Mbit/s there takes 10 bit/s/Hz: SNR 2^10 − 1 = 1023, so 0.1 · 1023 / 22,387 W.
    expect(leastPowerW(near, 0.1, 10e6)).toBeCloseTo(0.004_569_57, 8);
  });

  it('finds the least power that carries a rate at a share: a hair less does not', () => {
    fc.assert(
      fc.property(
        links,
        fc.double({ min: 1e-3, max: 1, noNaN: true }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        (link, share, bitsPerHz) => {
          const rate = bitsPerHz * share * link.bandwidthHz;
          const p = leastPowerW(link, share, rate);
          expect(shannonRateBps(link, share, p) / rate).toBeCloseTo(1, 9);
          expect(shannonRateBps(link, share, p * (1 - 1e-6))).toBeLessThan(rate);
          // More of the band, less power for the same rate.
          expect(leastPowerW(link, Math.min(1, share * 1.5), rate)).toBeLessThanOrEqual(p * (1 + 1e-12));
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it('finds the least share that carries a rate at the maximum power, or says none does', () => {
    fc.assert(
      fc.property(links, fc.double({ min: 1e-4, max: 0.9999, noNaN: true }), (link, fraction) => {
        // As a fraction of the rate no bandwidth exceeds: P·k·W/ln2.
        const rate = (fraction * link.maxPowerW * link.snrPerW * link.bandwidthHz) / Math.LN2;
        const b = leastShare(link, rate);
        expect(b).toBeGreaterThan(0);
        expect(leastPowerW(link, b, rate) / link.maxPowerW).toBeCloseTo(1, 6);
      }),
      { numRuns: 200, seed: 12 },
    );
    const link: RadioLink = { bandwidthHz: 1e6, snrPerW: 10, maxPowerW: 1 };
    expect(leastShare(link, (10 * 1e6) / Math.LN2)).toBe(Number.POSITIVE_INFINITY);
  });

  it('solves w·e^w = x on the principal branch', () => {
    expect(lambertW0(1)).toBeCloseTo(0.567_143_290_409_783_8, 14);
    expect(lambertW0(Math.E)).toBeCloseTo(1, 14);
    expect(lambertW0(0)).toBe(0);
    expect(lambertW0(-1 / Math.E)).toBe(-1);
    for (const x of [-0.3678, -0.3, -0.2, -0.1, -1e-9, 1e-300, 1e-9, 0.5, 2, 10, 1e6, 1e100, 1e300]) {
      const w = lambertW0(x);
      expect(w).toBeGreaterThanOrEqual(-1);
      // w·e^w = x, as logarithms so the largest stay finite: to 12 digits but next to the branch point.
      expect(w + Math.log(Math.abs(w)) - Math.log(Math.abs(x))).toBeCloseTo(0, x < -0.36 ? 7 : 12);
    }
    fc.assert(
      fc.property(fc.double({ min: -1 / Math.E + 1e-6, max: 1e12, noNaN: true }), (x) => {
        if (x === 0) return;
        const w = lambertW0(x);
        expect((w * Math.exp(w)) / x).toBeCloseTo(1, x < -0.36 ? 5 : 11);
      }),
      { numRuns: 500, seed: 14 },
    );
  });

  it('prices a share at its convex optimum, at the least power there: no feasible share costs less', () => {
    fc.assert(
      fc.property(
        links,
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        fc.double({ min: -4, max: 4, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (link, fraction, slack, logPrice, cap) => {
          const rate = (fraction * link.maxPowerW * link.snrPerW * link.bandwidthHz) / Math.LN2;
          const lambda = 0.1;
          const mu = 10 ** logPrice * lambda * slack * link.maxPowerW;
          const cost = (b: number) => lambda * slack * leastPowerW(link, b, rate) + mu * b;
          const out: RadioPick = { share: Number.NaN, powerW: Number.NaN };
          const feasible = radioPick(link, rate, slack, lambda, mu, cap, out);
          const lo = leastShare(link, rate);
          if (lo > cap * (1 + 1e-9)) {
            expect(feasible).toBe(false);
            return;
          }
          expect(feasible).toBe(true);
          const b = out.share;
          expect(b).toBeGreaterThanOrEqual(lo * (1 - 1e-9));
          expect(b).toBeLessThanOrEqual(cap);
          // Its power is the least that carries the rate there, within the limit.
          expect(out.powerW / leastPowerW(link, b, rate)).toBeCloseTo(1, 9);
          expect(out.powerW).toBeLessThanOrEqual(link.maxPowerW * (1 + 1e-9));
          // A dense scan of the feasible shares finds nothing cheaper.
          let best = Number.POSITIVE_INFINITY;
          for (let i = 0; i <= 2000; i++)
            best = Math.min(best, cost(Math.min(cap, lo + ((cap - lo) * i) / 2000)));
          expect(cost(b)).toBeLessThanOrEqual(best * (1 + 1e-9));
          // Energy free: the least share that can do it, at full power.
          expect(radioPick(link, rate, slack, 0, mu, cap, out)).toBe(true);
          expect(out.share).toBeCloseTo(Math.min(cap, lo), 12);
          expect(out.powerW).toBe(link.maxPowerW);
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });
});
