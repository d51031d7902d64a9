// A heterogeneous fleet on one machine: each simulated device gets a link,
// a compute speed and a power model, seeded. The devices' frames are real and
// go over real HTTP on loopback; what a round would have taken on the
// emulated hardware is accounted on a virtual clock from the bytes actually
// sent and the compute actually measured, so runs stay fast and repeatable.
//
// - Link: uplink log-uniform 0.5–100 Mbit/s, downlink 4× the uplink (at most
//   200 Mbit/s), round-trip time log-uniform 10–150 ms.
// - Compute: a speed multiplier log-uniform 0.25–4× of this machine; the
//   head's measured milliseconds are divided by it.
// - Power: compute 2–6 W, radio 0.5–2.5 W while transmitting (uniform).

import { mulberry32 } from '../../common/random.js';
import type { DeviceProfileReport } from '../../protocol/profile.js';

export type FleetKind = 'uniform' | 'heterogeneous';

export interface EmulatedDevice {
  uplinkBps: number;
  downlinkBps: number;
  rttMs: number;
  /** Times this machine's speed: the head's measured time is divided by it. */
  speed: number;
  computeW: number;
  radioW: number;
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

export function emulatedFleet(kind: FleetKind, devices: number, seed: number): EmulatedDevice[] {
  if (kind === 'uniform') return Array.from({ length: devices }, () => ({ ...MACHINE }));
  const random = mulberry32(seed * 7919 + 17);
  return Array.from({ length: devices }, () => {
    const uplinkBps = logUniform(random(), 0.5e6, 100e6);
    return {
      uplinkBps,
      downlinkBps: Math.min(200e6, 4 * uplinkBps),
      rttMs: logUniform(random(), 10, 150),
      speed: logUniform(random(), 0.25, 4),
      computeW: 2 + 4 * random(),
      radioW: 0.5 + 2 * random(),
    };
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
 * seconds × compute power plus transmit seconds × radio power.
 */
export function virtualRound(device: EmulatedDevice, m: MeasuredRound, uplinkRateBps: number): VirtualRound {
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
    energyJ: computeS * device.computeW + (uplinkS + (m.updateBytes * 8) / rate) * device.radioW,
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
