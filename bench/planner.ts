// The planner's own cost: planning a round of 100 and of 1,000 devices (the
// issue's target: under 1 s of coordinator CPU for 1,000), each device with
// its own compute speed (0.25–4×), link (0.5–100 Mbit/s, log-uniform) and
// power model, two cuts and every encoding, by the Lagrangian relaxation.
// And 1,000 devices with a radio model (strategy/plan/radio.ts), 10–500 m
// from a cell with 1 MHz of band per device, whose transmit power and
// bandwidth share the planner chooses.
import { mulberry32 } from '../common/random.js';
import { round } from '../scripts/lib/stats.js';
import { bytesPerSample, type CutCost, type DeviceProfile } from '../strategy/plan/model.js';
import { type PlanInput, planRound } from '../strategy/plan/planner.js';
import { dbmToW, pathGain } from '../strategy/plan/radio.js';

/**
 * The reference ViT's cut activation, [17 tokens, 64], at both cuts. The edge's
 * tail time is set so that neither cut is best for every device: block1 is the
 * faster round for devices above 1× and costs them more compute energy.
 */
const bytes = bytesPerSample([17, 64]);
const CUTS: CutCost[] = [
  {
    cut: 'embed',
    depth: 0,
    uplinkBytesPerSample: bytes,
    downlinkBytesPerSample: bytes,
    tailMsPerSample: 1.0,
    minUplinkBits: 4,
    minDownlinkBits: 8,
  },
  {
    cut: 'block1',
    depth: 2,
    uplinkBytesPerSample: bytes,
    downlinkBytesPerSample: bytes,
    tailMsPerSample: 0.4,
    minUplinkBits: 4,
    minDownlinkBits: 8,
  },
];

function fleet(n: number): DeviceProfile[] {
  const u = mulberry32(n);
  return Array.from({ length: n }, (_, i) => {
    const speed = 2 ** (u() * 4 - 2);
    const mbps = 10 ** (u() * Math.log10(200) - Math.log10(2));
    return {
      deviceId: `d${i}`,
      headMsPerSample: { embed: 0.1 / speed, block1: 0.7 / speed },
      uplinkBps: mbps * 1e6,
      downlinkBps: mbps * 4e6,
      rttMs: 10 + u() * 190,
      power: { computeW: 1 + u() * 4, radioW: 0.2 + u() * 1.5 },
      samples: 200 + Math.floor(u() * 1000),
      steps: 16,
    };
  });
}

/** The same fleet on radios: 10–500 m out, evenly over the cell's area, at most 23 dBm. */
function radioFleet(n: number): DeviceProfile[] {
  const u = mulberry32(n + 1);
  return fleet(n).map((d) => ({
    ...d,
    radio: { channelGain: pathGain(Math.sqrt(100 + u() * (500 ** 2 - 100))), maxPowerW: dbmToW(23) },
  }));
}

function timeIt(n: number, radio = false): { ms: number; latency_s: number; method: string } {
  const devices = radio ? radioFleet(n) : fleet(n);
  const input: PlanInput = {
    devices,
    cuts: CUTS,
    uplinkBudgetBps: n * 5e6,
    ...(radio ? { bandwidthHz: n * 1e6 } : {}),
    deadlineS: 3600,
    lambda: 0.01,
  };
  const times: number[] = [];
  let last = planRound(input);
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    last = planRound(input);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { ms: round(times[1], 1), latency_s: round(last.latencyS, 2), method: last.method };
}

export function benchPlanner() {
  const small = timeIt(100);
  const large = timeIt(1000);
  const radio = timeIt(1000, true);
  return {
    devices_100: small,
    devices_1000: large,
    /** 1,000 devices whose transmit power and share of the cell's band are planned. */
    devices_1000_radio: radio,
    /** Time per device planned, 1,000 against 100: 1.0 is linear scaling. */
    per_device_ratio_1000_vs_100: round(large.ms / 1000 / (small.ms / 100), 2),
  };
}
