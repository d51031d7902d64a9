// The trainer's profile meter: per-sample head time per cut, the effective
// rate of its exchanges, and the declared power, in the shape the join
// carries (protocol/profile.ts validates what it reports).
import { describe, expect, it } from 'vitest';
import { ProfileMeter } from '../../../client-sdk/trainer/profile.js';
import { DeviceProfileReport } from '../../../protocol/profile.js';

describe('ProfileMeter', () => {
  it('reports nothing before anything is measured or declared', () => {
    expect(new ProfileMeter().report()).toBeUndefined();
  });

  it('averages the head per sample, per cut, and the exchanges’ rate', () => {
    const meter = new ProfileMeter({ power: { computeW: 2, radioW: 0.5 } });
    meter.head('embed', 10, 32);
    meter.head('embed', 6, 32);
    meter.head('block1', 40, 16);
    meter.exchange(500, 1_000_000);
    meter.exchange(500, 1_500_000);
    const report = DeviceProfileReport.parse(meter.report());
    expect(report.headMsPerSample).toEqual({ embed: 0.25, block1: 2.5 });
    // 2.5 MB in 1 s.
    expect(report.uplinkBps).toBe(20e6);
    expect(report.power).toEqual({ computeW: 2, radioW: 0.5 });
  });

  it('keeps, per cut, the largest heap read after a head step, and reports it only where the runtime shows one', () => {
    let heap = 16 * 2 ** 20;
    const meter = new ProfileMeter({}, () => heap);
    meter.head('embed', 10, 32);
    heap += 2 ** 20;
    meter.head('embed', 10, 32);
    heap -= 2 ** 19; // a runtime that could shrink would not lower the peak
    meter.head('embed', 10, 32);
    meter.head('block1', 40, 16);
    expect(DeviceProfileReport.parse(meter.report()).headPeakBytes).toEqual({
      embed: 17 * 2 ** 20,
      block1: 16.5 * 2 ** 20,
    });
    const unseen = new ProfileMeter({}, () => undefined);
    unseen.head('embed', 10, 32);
    expect(unseen.report()).not.toHaveProperty('headPeakBytes');
  });

  it('rejects a head peak that is not a whole, positive, bounded byte count', () => {
    const base = { headMsPerSample: { embed: 1 } };
    for (const bad of [0, -1, 1.5, 2 ** 51, Number.NaN])
      expect(
        DeviceProfileReport.safeParse({ ...base, headPeakBytes: { embed: bad } }).success,
        String(bad),
      ).toBe(false);
    expect(DeviceProfileReport.safeParse({ ...base, headPeakBytes: { embed: 2 ** 24 } }).success).toBe(true);
  });

  it('keeps the smallest round trip it saw', () => {
    const meter = new ProfileMeter();
    meter.roundTrip(80);
    meter.roundTrip(35);
    meter.roundTrip(120);
    expect(DeviceProfileReport.parse(meter.report()).rttMs).toBe(35);
  });
});
