// What a round costs each device under a choice of cut and encodings and a
// share of the uplink: the latency–energy model the planner optimizes (after
// SFLAM: round latency is the slowest device's; energy is compute time ×
// compute power plus transmit time × radio power). Everything here is from
// measurements: the device's own profile (head time per cut, link rates,
// RTT, declared power) and the deployment's per-cut costs (bytes per sample
// at each encoding, the tail's time at the edge).
import { BITS, ENCODINGS, type Encoding } from '../../protocol/encoding.js';
import { frameSize } from '../../protocol/frame.js';
import { type Cell, type RadioLink, type RadioModel, radioLink } from './radio.js';

/** One cut a model was built with, and what training at it moves and costs the edge. */
export interface CutCost {
  cut: string;
  /** Encoder blocks on the device: the privacy floor is a minimum depth. */
  depth: number;
  /** Bytes a training sample sends up (activation) per uplink encoding the cut allows at all. */
  uplinkBytesPerSample: Partial<Record<Encoding, number>>;
  /** Bytes a training sample brings down (the activation's gradient) per downlink encoding. */
  downlinkBytesPerSample: Partial<Record<Encoding, number>>;
  /** The tail's forward and backward per sample at the edge (ms), measured there. */
  tailMsPerSample: number;
  /**
   * The fewest bits per value each way that keep the fine-tune's accuracy at
   * this cut (measured: EXPERIMENTS.md, per cut and encoding). Narrower
   * encodings are not offered.
   */
  minUplinkBits: number;
  minDownlinkBits: number;
}

/**
 * Bytes one sample's activation (or its gradient) takes on the wire at each
 * encoding: the frame of a batch of one, with per-token scales as steps send
 * them (protocol/frame.ts), so a cut's costs come from its tensor shape.
 */
export function bytesPerSample(sampleShape: readonly number[]): Record<Encoding, number> {
  return Object.fromEntries(ENCODINGS.map((e) => [e, frameSize([1, ...sampleShape], e, 'token')])) as Record<
    Encoding,
    number
  >;
}

/** A device's declared power model (watts). Without one its energy is not counted. */
export interface PowerModel {
  computeW: number;
  radioW: number;
}

/** What the planner knows of one selected device (its measured profile and this round's work). */
export interface DeviceProfile {
  deviceId: string;
  /** Head forward and backward per sample, per cut it can run (ms). A cut absent here is not offered. */
  headMsPerSample: Readonly<Record<string, number>>;
  /** The head's peak memory per cut (bytes), and the device's limit: cuts over it are not offered. */
  headPeakBytes?: Readonly<Record<string, number>>;
  memoryLimitBytes?: number;
  /** Measured link throughput, bits per second, and round-trip time. */
  uplinkBps: number;
  downlinkBps: number;
  rttMs: number;
  power?: PowerModel;
  /**
   * A radio whose transmit power and bandwidth the planner chooses (strategy/plan/radio.ts).
   * With one the uplink runs at its Shannon rate, not at `uplinkBps`, and transmitting costs
   * the chosen power, not `power.radioW`.
   */
  radio?: RadioModel;
  /** Samples the device processes this round (local examples × epochs) and the steps they take. */
  samples: number;
  steps: number;
}

/** One discrete option for a device: a cut and the encodings both ways. */
export interface Choice {
  cut: string;
  uplink: Encoding;
  downlink: Encoding;
  /** Seconds of the round that do not depend on the uplink share: compute, downlink, round trips. */
  fixedS: number;
  /** The tail's seconds at the edge for this device's samples (in `fixedS` too, scaled by the edge's load). */
  edgeS: number;
  /** Bits the device sends up this round. */
  uplinkBits: number;
  /** Joules of compute (0 without a power model). */
  computeJ: number;
  /** Watts while transmitting (0 without a power model); a radio device's maximum. */
  radioW: number;
  /** A radio device's link to the cell: its rate and power follow from its share (strategy/plan/radio.ts). */
  radio?: RadioLink;
}

/** The round's seconds for a device under a choice and an uplink rate. */
export const latencyS = (c: Choice, rateBps: number): number =>
  c.uplinkBits === 0 ? c.fixedS : c.fixedS + c.uplinkBits / rateBps;

/** The round's joules for a device under a choice, an uplink rate and the power it transmits at. */
export const energyJ = (c: Choice, rateBps: number, powerW = c.radioW): number =>
  c.computeJ + (c.uplinkBits === 0 ? 0 : (powerW * c.uplinkBits) / rateBps);

/**
 * Every choice a device may make: cuts it can run (and hold in memory) at
 * least as deep as the privacy floor, each uplink and downlink encoding the
 * cut allows that is in `allowed`. `edgeLoad` scales the tail's time when
 * more devices train than the edge runs at once. A device's radio model is
 * used only with the `cell` it shares.
 */
export function choicesOf(
  d: DeviceProfile,
  cuts: readonly CutCost[],
  allowed: { uplink: readonly Encoding[]; downlink: readonly Encoding[]; minDepth: number },
  edgeLoad: number,
  cell?: Cell,
): Choice[] {
  const out: Choice[] = [];
  const radio = d.radio && cell ? radioLink(d.radio, cell) : undefined;
  for (const cut of cuts) {
    const headMs = d.headMsPerSample[cut.cut];
    if (headMs === undefined || cut.depth < allowed.minDepth) continue;
    const peak = d.headPeakBytes?.[cut.cut];
    if (peak !== undefined && d.memoryLimitBytes !== undefined && peak > d.memoryLimitBytes) continue;
    for (const up of allowed.uplink) {
      const upBytes = cut.uplinkBytesPerSample[up];
      if (upBytes === undefined || BITS[up] < cut.minUplinkBits) continue;
      for (const down of allowed.downlink) {
        const downBytes = cut.downlinkBytesPerSample[down];
        if (downBytes === undefined || BITS[down] < cut.minDownlinkBits) continue;
        const edgeS = (d.samples * cut.tailMsPerSample) / 1000;
        const computeS = (d.samples * headMs) / 1000 + edgeS * edgeLoad;
        const downS = (d.samples * downBytes * 8) / d.downlinkBps;
        out.push({
          cut: cut.cut,
          uplink: up,
          downlink: down,
          fixedS: computeS + downS + (d.steps * d.rttMs) / 1000,
          edgeS,
          uplinkBits: d.samples * upBytes * 8,
          computeJ: d.power ? ((d.samples * headMs) / 1000) * d.power.computeW : 0,
          radioW: radio ? radio.maxPowerW : (d.power?.radioW ?? 0),
          // Present (if undefined) on every choice: one object shape in the planner's hot loop.
          radio,
        });
      }
    }
  }
  return out;
}
