// The simulated devices: one SDK trainer per enrolled device, each with its
// own token, data and seed, sharing this process's ONNX runtime.
import * as ortNode from 'onnxruntime-node';
import {
  createTrainer,
  nodeSessionFactory,
  type OrtLike,
  ortSessionFactory,
  type Trainer,
} from '../../client-sdk/node.js';
import type { LocalDataset } from '../../client-sdk/trainer/index.js';
import type { AdminClient } from '../../operator/client.js';
import { type EmulatedDevice, emulatedProfile, linkFetch } from './fleet.js';

export interface Device {
  id: string;
  trainer: Trainer;
  data: LocalDataset;
  /** Its link, speed and power on the emulated fleet. */
  emulated: EmulatedDevice;
  /**
   * The head's forward and backward per sample on this machine, timed alone
   * before the first round (trainer.calibrate). In a round the devices share
   * this process's one thread, so their in-round timings include each
   * other's work: the emulated compute uses this instead.
   */
  headMsPerSample: Record<string, number>;
  /** Real-time runs: the link emulation its requests go through. */
  link?: ReturnType<typeof linkFetch>;
}

export interface DeviceOptions {
  baseUrl: string;
  federationId: string;
  datasets: readonly LocalDataset[];
  fleet: readonly EmulatedDevice[];
  seed: number;
  runtime: 'wasm' | 'node';
  /** Emulate each device's round trip and downlink in real time (its uplink is paced to its plan). */
  realtime: boolean;
}

export const deviceId = (i: number) => `device-${String(i).padStart(3, '0')}`;

export async function enrollDevices(admin: AdminClient, options: DeviceOptions): Promise<Device[]> {
  // One factory for all: ORT-web keeps one WASM instance per process anyway.
  const sessionFactory =
    options.runtime === 'node'
      ? ortSessionFactory(ortNode as unknown as OrtLike, { executionProviders: ['cpu'] })
      : nodeSessionFactory({ numThreads: 1 });
  const devices: Device[] = [];
  for (const [i, data] of options.datasets.entries()) {
    const id = deviceId(i);
    const { token } = await admin.enroll(options.federationId, id);
    const emulated = options.fleet[i];
    const link = options.realtime ? linkFetch(emulated) : undefined;
    const trainer = createTrainer({
      baseUrl: options.baseUrl,
      federationId: options.federationId,
      token,
      dataset: data,
      // Distinct per device, so two devices with similar data still shuffle differently.
      seed: options.seed * 1000 + i,
      sessionFactory,
      // The local Worker is one workerd process; with many devices stepping at
      // once a step can queue for a while behind the others.
      timeoutMs: 300_000,
      // It reports what it measures as the emulated device would: its compute at its speed, its link.
      adjustProfile: (measured) => emulatedProfile(emulated, measured, device.headMsPerSample),
      ...(link ? { fetch: link.fetch } : {}),
    });
    const device: Device = { id, trainer, data, emulated, headMsPerSample: {}, ...(link ? { link } : {}) };
    devices.push(device);
  }
  return devices;
}
