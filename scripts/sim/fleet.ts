// A heterogeneous fleet on one machine: each simulated device gets a link,
// a compute speed and a power model, seeded. The devices' frames are real and
// go over real HTTP on loopback; what a round would have taken on the
// emulated hardware is accounted on a virtual clock from the bytes actually
// sent and the compute actually measured, so runs stay fast and repeatable.
//
// - Link: uplink log-uniform 0.5–100 Mbit/s, downlink 4× the uplink (at most
//   200 Mbit/s), round-trip time log-uniform 10–150 ms. Or, in a Shannon
//   cell (`ShannonCell`), a radio at a seeded distance from the cell, spread
//   evenly over its area (10–500 m by default): path loss, noise and the
//   cell's bandwidth give the uplink at a share and a transmit power
//   (strategy/plan/radio.ts, the planner's own formulas); the link a device
//   reports is what it gets alone in the cell at full power.
// - Compute: a speed multiplier log-uniform 0.25–4× of this machine; the
//   head's measured milliseconds are divided by it.
// - Power: compute 2–6 W, radio 0.5–2.5 W while transmitting (uniform).

import { mulberry32 } from '../../common/random.js';
import type { DeviceProfileReport } from '../../protocol/profile.js';
import {
  dbmToW,
  pathGain,
  radioLink,
  shannonRateBps as shannon,
  THERMAL_NOISE_W_PER_HZ,
} from '../../strategy/plan/radio.js';

export type FleetKind = 'uniform' | 'heterogeneous';
/** How a device's uplink is drawn: log-uniform rates, or from its distance in a Shannon cell. */
export type LinkKind = 'loguniform' | 'shannon';

/** The cell devices share on a Shannon link, and where they stand in it. */
export interface ShannonCell {
  bandwidthHz: number;
  /** Noise density at the cell's receiver (W/Hz). */
  noisePsdWPerHz: number;
  /** Every device's transmit power limit (W). */
  maxPowerW: number;
  minDistanceM: number;
  maxDistanceM: number;
}

/** One 20 MHz carrier, thermal noise, LTE's class-3 handsets (23 dBm), 10–500 m out. */
export const SHANNON_CELL: ShannonCell = {
  bandwidthHz: 20e6,
  noisePsdWPerHz: THERMAL_NOISE_W_PER_HZ,
  maxPowerW: dbmToW(23),
  minDistanceM: 10,
  maxDistanceM: 500,
};

/** A device's radio in a Shannon cell: the planner's radio model (strategy/plan/radio.ts) and where it stands. */
export interface EmulatedRadio {
  distanceM: number;
  channelGain: number;
  maxPowerW: number;
}

export interface EmulatedDevice {
  uplinkBps: number;
  downlinkBps: number;
  rttMs: number;
  /** Times this machine's speed: the head's measured time is divided by it. */
  speed: number;
  computeW: number;
  /** Watts while transmitting; on a radio, its maximum, at which it sends unless a plan says less. */
  radioW: number;
  radio?: EmulatedRadio;
}

/** This machine with a 20 Mbit/s link: what every device is in a uniform fleet. */
const MACHINE: EmulatedDevice = {
  uplinkBps: 20e6,
  downlinkBps: 80e6,
  rttMs: 30,
  speed: 1,
  computeW: 4,
  radioW: 1.5,
};

const logUniform = (u: number, lo: number, hi: number) => lo * (hi / lo) ** u;

/**
 * Device `index`'s radio in a fleet seeded `seed`: its distance drawn evenly
 * over the cell's area between the least and greatest distance (so most
 * devices are far out, as in a real cell), and the 3GPP macro-cell gain
 * there. Its own stream, so a device's place does not depend on the fleet's
 * size or on the other draws.
 */
export function emulatedRadio(seed: number, index: number, cell: ShannonCell = SHANNON_CELL): EmulatedRadio {
  const random = mulberry32(Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const inner = cell.minDistanceM ** 2;
  const distanceM = Math.sqrt(inner + random() * (cell.maxDistanceM ** 2 - inner));
  return { distanceM, channelGain: pathGain(distanceM), maxPowerW: cell.maxPowerW };
}

/** The uplink a radio gets at a share of the cell's band, at `powerW` (its maximum by default, and at most). */
export function shannonRateBps(
  radio: EmulatedRadio,
  cell: ShannonCell,
  share: number,
  powerW = radio.maxPowerW,
): number {
  return shannon(radioLink(radio, cell), share, Math.min(powerW, radio.maxPowerW));
}

/**
 * The fleet's devices. In a Shannon `cell` each device's uplink is its radio's
 * alone in the cell at full power and it transmits at most at the cell's
 * limit; everything else is drawn as without one, so a run with and one
 * without a cell differ only in the links.
 */
export function emulatedFleet(
  kind: FleetKind,
  devices: number,
  seed: number,
  cell?: ShannonCell,
): EmulatedDevice[] {
  const onRadio = (d: EmulatedDevice, index: number): EmulatedDevice => {
    if (!cell) return d;
    const radio = emulatedRadio(seed, index, cell);
    const uplinkBps = shannonRateBps(radio, cell, 1);
    return { ...d, uplinkBps, downlinkBps: Math.min(200e6, 4 * uplinkBps), radioW: radio.maxPowerW, radio };
  };
  if (kind === 'uniform') return Array.from({ length: devices }, (_, i) => onRadio({ ...MACHINE }, i));
  const random = mulberry32(seed * 7919 + 17);
  return Array.from({ length: devices }, (_, i) => {
    const uplinkBps = logUniform(random(), 0.5e6, 100e6);
    return onRadio(
      {
        uplinkBps,
        downlinkBps: Math.min(200e6, 4 * uplinkBps),
        rttMs: logUniform(random(), 10, 150),
        speed: logUniform(random(), 0.25, 4),
        computeW: 2 + 4 * random(),
        radioW: 0.5 + 2 * random(),
      },
      i,
    );
  });
}

/**
 * What the device reports: its head time per cut on the emulated hardware
 * (`alone`: the times measured without other devices sharing the thread,
 * where known), and the emulated link and power.
 */
export function emulatedProfile(
  device: EmulatedDevice,
  measured: DeviceProfileReport,
  alone: Readonly<Record<string, number>> = {},
): DeviceProfileReport {
  return {
    ...measured,
    headMsPerSample: Object.fromEntries(
      Object.entries(measured.headMsPerSample).map(([cut, ms]) => [cut, (alone[cut] ?? ms) / device.speed]),
    ),
    uplinkBps: device.uplinkBps,
    downlinkBps: device.downlinkBps,
    rttMs: device.rttMs,
    power: { computeW: device.computeW, radioW: device.radioW },
    ...(device.radio
      ? { radio: { channelGain: device.radio.channelGain, maxPowerW: device.radio.maxPowerW } }
      : {}),
  };
}

/** What one device did in a round, as measured. */
export interface MeasuredRound {
  headMs: number;
  /** The head update's bytes: about what the device also downloaded at the round's start. */
  updateBytes: number;
  /** Step exchanges on loopback: the edge's compute (and loopback's negligible transfer). */
  exchangeMs: number;
  steps: number;
  uplinkBytes: number;
  downlinkBytes: number;
}

export interface VirtualRound {
  latencyS: number;
  energyJ: number;
  computeS: number;
  uplinkS: number;
}

/**
 * The round on the emulated device's clock: its head compute at its speed,
 * the edge's time as measured, each step's round trip, and the bytes sent
 * and received at the emulated rates (the uplink at `uplinkRateBps`, the
 * share the round gave it, never above its own link). Energy: compute
 * seconds × compute power plus transmit seconds × radio power (`powerW`,
 * what a radio device was planned to transmit at, else its `radioW`).
 */
export function virtualRound(
  device: EmulatedDevice,
  m: MeasuredRound,
  uplinkRateBps: number,
  powerW = device.radioW,
): VirtualRound {
  const rate = Math.min(uplinkRateBps, device.uplinkBps);
  const computeS = m.headMs / 1000 / device.speed;
  const uplinkS = (m.uplinkBytes * 8) / rate;
  const downlinkS = (m.downlinkBytes * 8) / device.downlinkBps;
  // Around the steps: the join, the head adapters' download and the update's upload, a round trip each.
  const aroundS = (3 * device.rttMs) / 1000 + m.updateBytes * 8 * (1 / device.downlinkBps + 1 / rate);
  const latencyS =
    computeS + m.exchangeMs / 1000 + uplinkS + downlinkS + (m.steps * device.rttMs) / 1000 + aroundS;
  return {
    latencyS,
    energyJ: computeS * device.computeW + (uplinkS + (m.updateBytes * 8) / rate) * powerW,
    computeS,
    uplinkS,
  };
}

/**
 * A fetch that makes loopback behave like the device's link in real time: a
 * request leaves after its bytes at the device's uplink rate (`uplinkRateBps`,
 * set to the round's planned rate, never above the link), and its answer
 * arrives after the round trip plus its bytes at the downlink rate.
 * `delayedMs` counts what it added to step exchanges, which the virtual clock
 * accounts for itself.
 */
export function linkFetch(device: EmulatedDevice): {
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  uplinkRateBps: number;
  readonly delayedMs: number;
} {
  let delayedMs = 0;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const sizeOf = (body: RequestInit['body']) =>
    body == null
      ? 0
      : typeof body === 'string'
        ? new TextEncoder().encode(body).byteLength
        : ArrayBuffer.isView(body)
          ? body.byteLength
          : 0;
  const link = {
    uplinkRateBps: device.uplinkBps,
    async fetch(input: string, init: RequestInit) {
      const up = (sizeOf(init.body) * 8 * 1000) / Math.min(link.uplinkRateBps, device.uplinkBps);
      await sleep(up);
      const res = await globalThis.fetch(input, init);
      const body = await res.arrayBuffer();
      const down = device.rttMs + (body.byteLength * 8 * 1000) / device.downlinkBps;
      await sleep(down);
      if (input.includes('/steps/')) delayedMs += up + down;
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
    get delayedMs() {
      return delayedMs;
    },
  };
  return link;
}
