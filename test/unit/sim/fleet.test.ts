// The simulator's emulated fleet (scripts/sim/fleet.ts): seeded draws within
// the stated ranges, and the virtual clock's arithmetic.
import { describe, expect, it } from 'vitest';
import {
  emulatedFleet,
  emulatedProfile,
  emulatedRadio,
  SHANNON_CELL,
  shannonRateBps,
  virtualRound,
} from '../../../scripts/sim/fleet.js';
import { pathGain } from '../../../strategy/plan/radio.js';

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

  it('places radios in a Shannon cell: seeded distances spread over its area, rates from share and power', () => {
    const radios = Array.from({ length: 2000 }, (_, i) => emulatedRadio(5, i));
    expect(emulatedRadio(5, 7)).toEqual(radios[7]);
    expect(emulatedRadio(6, 7)).not.toEqual(radios[7]);
    for (const r of radios) {
      expect(r.distanceM).toBeGreaterThanOrEqual(10);
      expect(r.distanceM).toBeLessThanOrEqual(500);
      expect(r.channelGain).toBeCloseTo(pathGain(r.distanceM), 25);
      expect(r.maxPowerW).toBeCloseTo(0.1995, 4);
    }
    // Even over the area: about a quarter of the devices within half the radius.
    const inner = radios.filter((r) => r.distanceM < 250).length / radios.length;
    expect(inner).toBeGreaterThan(0.2);
    expect(inner).toBeLessThan(0.3);
    // 100 m out on the 20 MHz carrier: a tenth of it at 0.2 W is 2 MHz · log2(1 + 0.2 · g / (N0 · 2 MHz)).
    const r = { distanceM: 100, channelGain: pathGain(100), maxPowerW: 0.2 };
    const snr = (0.2 * 10 ** -9.05) / (10 ** -20.4 * 2e6);
    expect(shannonRateBps(r, SHANNON_CELL, 0.1, 0.2) / (2e6 * Math.log2(1 + snr))).toBeCloseTo(1, 9);
    // At its limit by default, and never above it; more share or power, more rate.
    expect(shannonRateBps(r, SHANNON_CELL, 0.1)).toBe(shannonRateBps(r, SHANNON_CELL, 0.1, 0.2));
    expect(shannonRateBps(r, SHANNON_CELL, 0.1, 5)).toBe(shannonRateBps(r, SHANNON_CELL, 0.1, 0.2));
    expect(shannonRateBps(r, SHANNON_CELL, 0.2, 0.1)).toBeGreaterThan(
      shannonRateBps(r, SHANNON_CELL, 0.1, 0.1),
    );
  });

  it('draws a fleet in a Shannon cell that differs from the log-uniform one only in its links', () => {
    const plain = emulatedFleet('heterogeneous', 50, 3);
    const cell = emulatedFleet('heterogeneous', 50, 3, SHANNON_CELL);
    for (const [i, d] of cell.entries()) {
      expect(d.radio).toEqual(emulatedRadio(3, i));
      expect(d.uplinkBps).toBeCloseTo(shannonRateBps(d.radio!, SHANNON_CELL, 1), 6);
      expect(d.downlinkBps).toBeLessThanOrEqual(200e6);
      expect(d.radioW).toBe(SHANNON_CELL.maxPowerW);
      expect({ ...d, uplinkBps: 0, downlinkBps: 0, radioW: 0, radio: undefined }).toEqual({
        ...plain[i],
        uplinkBps: 0,
        downlinkBps: 0,
        radioW: 0,
        radio: undefined,
      });
    }
    // The virtual clock charges the planned power, not the limit.
    const m = { headMs: 0, exchangeMs: 0, steps: 0, uplinkBytes: 1e6, downlinkBytes: 0, updateBytes: 0 };
    const [d] = cell;
    const rate = shannonRateBps(d.radio!, SHANNON_CELL, 0.05, 0.01);
    const v = virtualRound(d, m, rate, 0.01);
    expect(v.uplinkS).toBeCloseTo(8e6 / rate, 9);
    expect(v.energyJ).toBeCloseTo(v.uplinkS * 0.01, 9);
  });
});
