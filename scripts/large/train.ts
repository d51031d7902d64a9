// A short federated run on a large model: two SDK trainers in this process,
// each with a few MNIST digits resized to the model's input, train one round
// of LoRA adapters through the sharded tail (SplitFed V1: each device has its
// own copy of the tail adapters on every shard); the round publishes a
// version, and the tail then serves it (`?version=<federation>@<n>`).
import { createTrainer, nodeSessionFactory } from '../../client-sdk/node.js';
import type { RoundReport, Skipped } from '../../client-sdk/trainer/index.js';
import { batchOf, type ImageShape, loadMnist, resizeBatch, trainTestSplit } from '../../datasets/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { adminClient } from '../../operator/client.js';
import type { Encoding } from '../../protocol/encoding.js';

export interface ShortRunOptions {
  baseUrl: string;
  modelId: string;
  inputShape: ImageShape;
  devices?: number;
  /** Examples per device; with `batch`, the steps each device takes. */
  examples?: number;
  batch?: number;
  encoding?: Encoding;
  log?: (line: string) => void;
}

export interface ShortRunResult {
  federation_id: string;
  devices: Array<{ device: string; steps: number; samples: number; mean_loss: number; seconds: number }>;
  round_status: string;
  published_version: number | null;
  step_seconds_mean: number;
}

export async function shortFederatedRun(o: ShortRunOptions): Promise<ShortRunResult> {
  const devices = o.devices ?? 2;
  const examples = o.examples ?? 8;
  const batch = o.batch ?? 4;
  const log = o.log ?? (() => {});
  const mnist = await loadMnist();
  const { train } = trainTestSplit(mnist, { seed: 0 });
  const admin = adminClient(o.baseUrl, await localAdminKey());
  const federationId = `short-${Date.now().toString(36)}`;
  await admin.create(federationId, {
    modelId: o.modelId,
    rounds: 1,
    clientsPerRound: devices,
    quorum: devices,
    roundDeadlineSeconds: 3600,
    localEpochs: 1,
    batchSize: batch,
    uplink: o.encoding ?? 'int8',
    downlink: o.encoding ?? 'int8',
    budgetBytesPerRound: 500_000_000,
    headOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
    tailOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
    seed: 1,
  });
  const sessionFactory = nodeSessionFactory({ numThreads: 1 });
  const trainers = [];
  for (let d = 0; d < devices; d++) {
    const id = `device-${d}`;
    const { token } = await admin.enroll(federationId, id);
    const picked = resizeBatch(
      batchOf(mnist, train.subarray(d * examples, (d + 1) * examples)),
      o.inputShape,
    );
    const trainer = createTrainer({
      baseUrl: o.baseUrl,
      federationId,
      token,
      dataset: { pixels: picked.pixels, labels: picked.labels, size: examples },
      seed: d,
      sessionFactory,
      // A ViT-B step through twelve shards on a 2-core machine takes tens of seconds.
      timeoutMs: 600_000,
    });
    trainer.on('step', (e) => log(`${id}: step ${e.step} loss ${e.loss.toFixed(4)}`));
    trainers.push({ id, trainer });
  }
  await admin.start(federationId);
  try {
    const results = await Promise.all(
      trainers.map(async ({ id, trainer }) => {
        const t0 = performance.now();
        const report: RoundReport | Skipped = await trainer.runRound();
        if ('skipped' in report) throw new Error(`${id} could not train: ${report.skipped}`);
        return { id, report, seconds: (performance.now() - t0) / 1000 };
      }),
    );
    let record = (await admin.history(federationId))[0];
    for (let i = 0; i < 600 && record?.status !== 'published' && record?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      record = (await admin.history(federationId))[0];
    }
    const steps = results.reduce((a, r) => a + r.report.steps, 0);
    return {
      federation_id: federationId,
      devices: results.map((r) => ({
        device: r.id,
        steps: r.report.steps,
        samples: r.report.samples,
        mean_loss: r.report.meanLoss,
        seconds: r.seconds,
      })),
      round_status: record?.status ?? 'unknown',
      published_version: record?.publishedVersion ?? null,
      step_seconds_mean: results.reduce((a, r) => a + r.seconds, 0) / Math.max(1, steps),
    };
  } finally {
    await Promise.all(trainers.map(({ trainer }) => trainer.close()));
  }
}
