// One simulation: partition Fashion-MNIST across devices, create and start a
// federation on the Worker, then per round let every device try to join (the
// unselected sit out), train the selected ones concurrently, wait for the
// published version and score it on the held-out split.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoundReport, Skipped } from '../../client-sdk/trainer/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { type AdminClient, adminClient } from '../../operator/client.js';
import type { RoundRecord, Ticket } from '../../protocol/federation.js';
import { Manifest, type TrainingSpec } from '../../protocol/manifest.js';
import { federationConfig, type SimConfig } from './config.js';
import { federatedData } from './data.js';
import { type Device, enrollDevices } from './devices.js';
import { createEvaluator } from './evaluate.js';
import {
  emulatedFleet,
  SHANNON_CELL,
  type ShannonCell,
  shannonRateBps,
  type VirtualRound,
  virtualRound,
} from './fleet.js';
import type { SimProgress } from './progress.js';
import type { RoundResult, SimResults } from './results.js';

const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
const POLL_MS = 200;

export async function runSimulation(
  config: SimConfig,
  baseUrl: string,
  progress: SimProgress,
): Promise<SimResults> {
  const started = performance.now();
  const artifactsDir = join(ARTIFACTS, config.modelId);
  const manifest = Manifest.parse(JSON.parse(await readFile(join(artifactsDir, 'manifest.json'), 'utf8')));
  if (!manifest.training) throw new Error(`${config.modelId} was not built for training`);
  const training = { ...manifest, training: manifest.training as TrainingSpec };

  const data = await federatedData(config);
  const { dataset: ds, clients: datasets, evalIndices } = data;
  const evaluator = await createEvaluator(artifactsDir, training, ds, evalIndices);

  const admin = adminClient(baseUrl, await localAdminKey());
  const federationId = `sim-${Date.now().toString(36)}-${config.seed}`;
  const cell = config.bandwidthHz > 0 ? { ...SHANNON_CELL, bandwidthHz: config.bandwidthHz } : undefined;
  await admin.create(federationId, federationConfig(config));
  const devices = await enrollDevices(admin, {
    baseUrl,
    federationId,
    datasets,
    // In real time the devices' compute is this machine's: their head runs here.
    fleet: emulatedFleet(config.fleet, datasets.length, config.seed, cell).map((d) =>
      config.realtime ? { ...d, speed: 1 } : d,
    ),
    seed: config.seed,
    runtime: config.deviceRuntime,
    realtime: config.realtime,
  });
  const tickets = new Map<string, Ticket>();
  for (const d of devices) {
    d.trainer.on('joined', ({ ticket }) => {
      tickets.set(d.id, ticket);
      // In real time the device's uplink runs at the share the round gave it.
      if (d.link && ticket.plan) d.link.uplinkRateBps = ticket.plan.rateBps;
      const perEpoch = Math.ceil(d.data.size / Math.min(ticket.batchSize, manifest.wire.maxBatch));
      progress.addSteps(perEpoch * ticket.localEpochs);
    });
    d.trainer.on('step', () => progress.step());
    d.trainer.on('submitted', () => progress.submitted());
  }

  try {
    const initialAccuracy = await evaluator.accuracy(await admin.adapters(federationId, 0));
    progress.log(
      `federation ${federationId}: initial held-out accuracy ${(initialAccuracy * 100).toFixed(1)}%`,
    );
    await reportProfiles(devices, [config.modelId, ...config.cuts]);
    progress.log('every device timed its head and reported its profile');
    await admin.start(federationId);
    const rounds: RoundResult[] = [];
    const deviceRounds: VirtualRound[] = [];
    let accuracy = initialAccuracy;
    let version = 0;
    let cumulativeUplink = 0;
    for (let round = 0; round < config.rounds; round++) {
      progress.startRound(round);
      const roundStart = performance.now();
      tickets.clear();
      const delayedBefore = new Map(devices.map((d) => [d.id, d.link?.delayedMs ?? 0]));
      const played = await playRound(devices);
      const reports = played.map((p) => p.report);
      const record = await waitForRound(admin, federationId, round);
      // The tail's own time per sample, per build, as the sessions measured it (their quickest steps).
      const tailMs = (await admin.state(federationId)).tailMsPerSample ?? {};
      const tailMsOf = (device: Device) => tailMs[tickets.get(device.id)?.modelId ?? config.modelId];
      // On the virtual clock: each device at the uplink rate its ticket planned, or an equal share.
      const equalShare = config.uplinkBudgetBps / config.perRound;
      const virtual = played.map(({ device, report }) =>
        virtualRound(
          device.emulated,
          {
            ...report,
            // The edge's part of the exchanges. Here ten devices' sessions share one workerd on two
            // cores, and a step's wait, even the quickest one's, is mostly queueing behind the others,
            // which the edge's own isolates do not do: the round counts every sample at the tail's
            // time per sample, the one the planner is given.
            exchangeMs: edgeMs(device, report, delayedBefore.get(device.id) ?? 0, tailMsOf(device)),
            headMs:
              (device.headMsPerSample[tickets.get(device.id)?.cut ?? ''] ??
                report.headMs / report.samplesProcessed) * report.samplesProcessed,
          },
          uplinkRate(device, tickets.get(device.id), equalShare, cell, config.perRound),
          tickets.get(device.id)?.plan?.powerW ?? device.emulated.radioW,
        ),
      );
      deviceRounds.push(...virtual);
      const shared = record.splitfed === 'v2';
      // The edge's compute for the round: every sample at the tail's own time per sample (not a
      // step's wall time, which holds the queue for a shared tail).
      const edgeS =
        played.reduce((t, { device, report }) => t + (tailMsOf(device) ?? 0) * report.samplesProcessed, 0) /
        1000;
      // A shared tail takes the devices' steps one at a time: the round lasts at least their sum.
      const latencyS = Math.max(0, ...virtual.map((v) => v.latencyS), shared ? edgeS : 0);
      const edgeTails = shared ? 1 : played.length;
      const seconds = (performance.now() - roundStart) / 1000;
      if (record.status === 'published' && record.publishedVersion !== null) {
        version = record.publishedVersion;
        accuracy = await evaluator.accuracy(await admin.adapters(federationId, version));
      }
      cumulativeUplink += record.uplinkBytes;
      rounds.push({
        round,
        status: record.status,
        version,
        accuracy,
        uplink_bytes: record.uplinkBytes,
        downlink_bytes: record.downlinkBytes,
        cumulative_uplink_bytes: cumulativeUplink,
        participants: record.participants,
        samples: record.samples,
        mean_loss: record.meanLoss,
        client_accuracy: record.clientAccuracy,
        steps: reports.reduce((s, r) => s + r.steps, 0),
        update_bytes: reports.reduce((s, r) => s + r.updateBytes, 0),
        protocol_bytes: reports.reduce((s, r) => s + (r.protocolBytes ?? 0), 0),
        latency_s: latencyS,
        energy_j: virtual.reduce((s, v) => s + v.energyJ, 0),
        encodings: encodingMix(played.map(({ device }) => tickets.get(device.id))),
        ...(record.plan ? { planned_latency_s: record.plan.latencyS } : {}),
        splitfed: record.splitfed ?? 'v1',
        edge_s: edgeS,
        edge_tails: edgeTails,
        edge_state_bytes: edgeTails * tailStateBytes(manifest, config),
        seconds,
      });
      progress.endRound(accuracy);
    }
    // The final version's adapters beside the results, for what is measured on the trained model
    // afterwards (npm run privacy -- --head-adapters).
    await mkdir(config.out, { recursive: true });
    await writeFile(join(config.out, 'adapters.safetensors'), await admin.adapters(federationId, version));
    return {
      initial_accuracy: initialAccuracy,
      final_accuracy: accuracy,
      mean_round_latency_s: mean(rounds.map((r) => r.latency_s)),
      mean_round_seconds: mean(rounds.map((r) => r.seconds)),
      mean_device_energy_j: mean(deviceRounds.map((v) => v.energyJ)),
      rounds,
      federation_id: federationId,
      ...data.summary,
      total_seconds: (performance.now() - started) / 1000,
      config,
    };
  } catch (err) {
    // Leave no round waiting for its (long) deadline on a Worker that may be reused.
    await admin.close(federationId).catch(() => undefined);
    throw err;
  } finally {
    await Promise.all(devices.map((d) => d.trainer.close()));
    await evaluator.release();
  }
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** How many of the round's devices trained at each cut and encodings, e.g. { "embed int4/int8": 7, "block1 int8/int8": 3 }. */
function encodingMix(tickets: ReadonlyArray<Ticket | undefined>): Record<string, number> {
  const mix: Record<string, number> = {};
  for (const t of tickets) {
    if (!t) continue;
    const key = `${t.cut} ${t.uplink}/${t.downlink}`;
    mix[key] = (mix[key] ?? 0) + 1;
  }
  return mix;
}

/**
 * A device's uplink on the virtual clock: a radio's Shannon rate at its
 * planned share of the band and power (or an equal share at full power);
 * otherwise its planned rate, or an equal share of the budget.
 */
function uplinkRate(
  device: Device,
  ticket: Ticket | undefined,
  equalShare: number,
  cell: ShannonCell | undefined,
  perRound: number,
): number {
  const radio = device.emulated.radio;
  if (radio && cell)
    return shannonRateBps(radio, cell, ticket?.plan?.share ?? 1 / perRound, ticket?.plan?.powerW);
  return ticket?.plan?.rateBps ?? equalShare;
}

/** One tail copy at the edge: its trainables, and as much again for SGD momentum or twice for AdamW. */
function tailStateBytes(manifest: Manifest, c: SimConfig): number {
  const floats = (manifest.training?.trainables ?? [])
    .filter((t) => t.owner === 'tail')
    .reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const copies = c.optimizer === 'adamw' ? 3 : c.momentum > 0 ? 2 : 1;
  return floats * 4 * copies;
}

/** The edge's time for a device's round on the virtual clock (see the call). */
function edgeMs(
  device: Device,
  report: RoundReport,
  delayedBefore: number,
  tailMsPerSample: number | undefined,
): number {
  if (device.link) {
    // In real time the clock is checked against the wall: what was measured, less the emulated link.
    return report.exchangeMs - (device.link.delayedMs - delayedBefore);
  }
  // No session measured the tail (none reported): the device's own quickest exchange.
  return (tailMsPerSample ?? report.fastestExchangeMsPerSample ?? 0) * report.samplesProcessed;
}

/**
 * Before the first round: every device times its head at the model's cut and
 * reports its profile with a join (which finds no round open yet), so the
 * first round is planned as well as the others.
 */
async function reportProfiles(devices: readonly Device[], modelIds: readonly string[]): Promise<void> {
  for (const d of devices) {
    for (const modelId of modelIds) {
      const { cut, msPerSample } = await d.trainer.calibrate(modelId);
      d.headMsPerSample[cut] = msPerSample;
    }
    const outcome = await d.trainer.runRound();
    if (!('skipped' in outcome) || outcome.skipped !== 'no-open-round') {
      throw new Error(`${d.id} found a round open before the federation started`);
    }
  }
}

/** Every device tries; the selected train concurrently. A failed device fails the run. */
async function playRound(
  devices: readonly Device[],
): Promise<Array<{ device: Device; report: RoundReport }>> {
  const outcomes = await Promise.allSettled(devices.map((d) => d.trainer.runRound()));
  const reports: Array<{ device: Device; report: RoundReport }> = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') {
      throw new Error(`${devices[i].id} failed: ${(outcome.reason as Error)?.message ?? outcome.reason}`, {
        cause: outcome.reason,
      });
    }
    const value: RoundReport | Skipped = outcome.value;
    if ('skipped' in value) {
      if (value.skipped !== 'not-selected')
        throw new Error(`${devices[i].id} could not train: ${value.skipped}`);
      continue;
    }
    reports.push({ device: devices[i], report: value });
  }
  return reports;
}

/** The round's record once it has closed (published when every selected device submitted). */
async function waitForRound(admin: AdminClient, federationId: string, round: number): Promise<RoundRecord> {
  for (;;) {
    const record = (await admin.history(federationId)).find((r) => r.round === round);
    if (record && (record.status === 'published' || record.status === 'failed')) return record;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
