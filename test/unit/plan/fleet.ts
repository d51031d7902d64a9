// Small heterogeneous fleets for the planner's tests: two cuts of a ViT-like
// model (the deeper one sends the same bytes but costs the device more) and
// devices whose compute, links and power differ by orders of magnitude.
import fc from 'fast-check';
import { bytesPerSample, type CutCost, type DeviceProfile } from '../../../strategy/plan/model.js';

/** The reference ViT's cut activation, [17 tokens, 64]. */
const perSample = bytesPerSample([17, 64]);

export const CUTS: CutCost[] = [
  {
    cut: 'embed',
    depth: 0,
    uplinkBytesPerSample: perSample,
    downlinkBytesPerSample: perSample,
    tailMsPerSample: 0.4,
    minUplinkBits: 4,
    minDownlinkBits: 8,
  },
  {
    cut: 'block1',
    depth: 2,
    uplinkBytesPerSample: perSample,
    downlinkBytesPerSample: perSample,
    tailMsPerSample: 0.25,
    minUplinkBits: 8,
    minDownlinkBits: 8,
  },
];

export const device = (i: number, speed: number, mbps: number, power = true): DeviceProfile => ({
  deviceId: `d${i}`,
  headMsPerSample: { embed: 0.1 / speed, block1: 0.7 / speed },
  uplinkBps: mbps * 1e6,
  downlinkBps: mbps * 4e6,
  rttMs: 20 + 10 * i,
  ...(power ? { power: { computeW: 2 + i, radioW: 0.5 + 0.3 * i } } : {}),
  samples: 500,
  steps: 16,
});

/** A fleet of 2–3 devices: compute speed 0.25–4×, links 0.5–100 Mbit/s (log-uniform). */
export const fleets = fc
  .array(
    fc.record({
      speed: fc.double({ min: -2, max: 2, noNaN: true }),
      rate: fc.double({ min: -0.7, max: 2, noNaN: true }),
    }),
    {
      minLength: 2,
      maxLength: 3,
    },
  )
  .map((ds) => ds.map((d, i) => device(i, 2 ** d.speed, 10 ** d.rate)));
