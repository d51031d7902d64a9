// The simulator's emulated fleet (scripts/sim/fleet.ts): seeded draws within
// the stated ranges, and the virtual clock's arithmetic.
import { describe, expect, it } from 'vitest';
import { emulatedFleet, emulatedProfile, virtualRound } from '../../../scripts/sim/fleet.js';

describe('emulated fleet', () => {
  it('draws links, speeds and power within their ranges, the same for the same seed', () => {
    const fleet = emulatedFleet('heterogeneous', 500, 3);
    expect(emulatedFleet('heterogeneous', 500, 3)).toEqual(fleet);
    expect(emulatedFleet('heterogeneous', 500, 4)).not.toEqual(fleet);
    for (const d of fleet) {
      expect(d.uplinkBps).toBeGreaterThanOrEqual(0.5e6);
      expect(d.uplinkBps).toBeLessThanOrEqual(100e6);
      expect(d.downlinkBps).toBeLessThanOrEqual(200e6);
      expect(d.speed).toBeGreaterThanOrEqual(0.25);
      expect(d.speed).toBeLessThanOrEqual(4);
      expect(d.rttMs).toBeGreaterThanOrEqual(10);
      expect(d.rttMs).toBeLessThanOrEqual(150);
    }
    // Log-uniform: about half the links under the geometric mean of the range (√50 ≈ 7.1 Mbit/s).
    const slow = fleet.filter((d) => d.uplinkBps < Math.sqrt(0.5e6 * 100e6)).length / fleet.length;
    expect(slow).toBeGreaterThan(0.4);
    expect(slow).toBeLessThan(0.6);
    expect(new Set(emulatedFleet('uniform', 5, 0).map((d) => JSON.stringify(d))).size).toBe(1);
  });

  it('reports the measured head at the device’s speed, with its own link and power', () => {
    const [d] = emulatedFleet('heterogeneous', 1, 0);
    const p = emulatedProfile(d, { headMsPerSample: { embed: 2 }, uplinkBps: 1e9, samples: 10 });
    expect(p.headMsPerSample.embed).toBeCloseTo(2 / d.speed, 12);
    expect(p).toMatchObject({ uplinkBps: d.uplinkBps, rttMs: d.rttMs, samples: 10 });
    expect(p.power).toEqual({ computeW: d.computeW, radioW: d.radioW });
  });

  it('puts a round on the virtual clock: compute at speed, bytes at the granted rate, round trips', () => {
    const device = { uplinkBps: 4e6, downlinkBps: 8e6, rttMs: 50, speed: 2, computeW: 3, radioW: 2 };
    const m = {
      headMs: 1000,
      exchangeMs: 500,
      steps: 10,
      uplinkBytes: 1e6,
      downlinkBytes: 2e6,
      updateBytes: 0,
    };
    const v = virtualRound(device, m, 2e6);
    // 0.5 s compute + 0.5 s edge + 4 s up + 2 s down + 0.5 s of step round trips + 3 more (join, adapters, submit).
    expect(v.latencyS).toBeCloseTo(7.65, 9);
    expect(v.energyJ).toBeCloseTo(0.5 * 3 + 4 * 2, 9);
    // The adapters down and the update up.
    const withUpdate = virtualRound(device, { ...m, updateBytes: 1e5 }, 2e6);
    expect(withUpdate.latencyS - v.latencyS).toBeCloseTo(0.1 + 0.4, 9);
    expect(withUpdate.energyJ - v.energyJ).toBeCloseTo(0.4 * 2, 9);
    // A share above the device's own link is no faster than the link.
    expect(virtualRound(device, m, 1e9).uplinkS).toBeCloseTo(2, 9);
  });
});
