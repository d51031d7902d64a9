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

  it('keeps the smallest round trip it saw', () => {
    const meter = new ProfileMeter();
    meter.roundTrip(80);
    meter.roundTrip(35);
    meter.roundTrip(120);
    expect(DeviceProfileReport.parse(meter.report()).rttMs).toBe(35);
  });
});
