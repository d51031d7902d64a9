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
import type { RoundRecord } from '../../protocol/federation.js';
import { Manifest, type TrainingSpec } from '../../protocol/manifest.js';
import { federationConfig, type SimConfig } from './config.js';
import { federatedData } from './data.js';
import { type Device, enrollDevices } from './devices.js';
import { createEvaluator } from './evaluate.js';
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
  await admin.create(federationId, federationConfig(config));
  const devices = await enrollDevices(admin, {
    baseUrl,
    federationId,
    datasets,
    seed: config.seed,
    runtime: config.deviceRuntime,
  });
  for (const d of devices) {
    d.trainer.on('joined', ({ ticket }) => {
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
    await admin.start(federationId);
    const rounds: RoundResult[] = [];
    let accuracy = initialAccuracy;
    let version = 0;
    let cumulativeUplink = 0;
    for (let round = 0; round < config.rounds; round++) {
      progress.startRound(round);
      const roundStart = performance.now();
      const reports = await playRound(devices);
      const record = await waitForRound(admin, federationId, round);
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

/** Every device tries; the selected train concurrently. A failed device fails the run. */
async function playRound(devices: readonly Device[]): Promise<RoundReport[]> {
  const outcomes = await Promise.allSettled(devices.map((d) => d.trainer.runRound()));
  const reports: RoundReport[] = [];
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
    reports.push(value);
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
