// Split federated fine-tuning over real HTTP on loopback: three device
// trainers (the SDK in Node) against the Worker, its coordinator and session
// Durable Objects under `wrangler dev`. The training loss goes down and the
// published model gets better on held-out data; the published version is then
// served to a split-inference client, and agrees with the same version
// exported as one merged model.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSplitClient } from '../../client-sdk/node.js';
import { argmaxRows } from '../../common/predictions.js';
import { parseSafetensors } from '../../common/safetensors.js';
import { batchOf, loadFashionMnist, trainTestSplit } from '../../datasets/index.js';
import { encodeModel, loadModel } from '../../models/onnx/index.js';
import { exportVersion } from '../../models/training/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { adminClient } from '../../operator/client.js';
import { Manifest } from '../../protocol/manifest.js';
import { buildModels } from '../../scripts/build-models.js';
import { parseSimArgs } from '../../scripts/sim/config.js';
import { simProgress } from '../../scripts/sim/progress.js';
import { runSimulation } from '../../scripts/sim/run.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';

let worker: LocalWorker;
let trained: { federationId: string; version: number } | undefined;
const ARTIFACTS = join(import.meta.dirname, '../../artifacts/vit-fashion');

beforeAll(async () => {
  await buildModels({ log: () => {} });
  worker = await startLocalWorker();
});

afterAll(async () => {
  await worker?.stop();
});

describe('federated split fine-tuning over loopback HTTP', () => {
  it('three clients, two rounds: loss falls and held-out accuracy rises', async () => {
    const config = parseSimArgs([
      '--clients',
      '3',
      '--per-round',
      '3',
      '--rounds',
      '2',
      '--alpha',
      '1',
      '--samples-per-client',
      '256',
      '--eval-samples',
      '500',
      '--local-epochs',
      '2',
      '--uplink',
      'int8',
      '--downlink',
      'int8',
    ]);
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() }) as unknown as typeof process.stderr;
    const results = await runSimulation(
      config,
      worker.url,
      simProgress(config.rounds, config.perRound, quiet),
    );

    expect(results.rounds).toHaveLength(2);
    for (const r of results.rounds) {
      expect(r.status).toBe('published');
      expect(r.participants).toBe(3);
      expect(r.uplink_bytes).toBeGreaterThan(0);
    }
    const [first, second] = results.rounds;
    expect(second.mean_loss!).toBeLessThan(first.mean_loss!);
    expect(results.final_accuracy).toBeGreaterThan(results.initial_accuracy + 0.1);
    trained = { federationId: results.federation_id, version: second.version };

    // Each device joined round 1 with what it measured in round 0 (protocol/profile.ts).
    const admin = adminClient(worker.url, await localAdminKey());
    for (const d of await admin.devices(results.federation_id)) {
      expect(d.profile?.headMsPerSample.embed, d.deviceId).toBeGreaterThan(0);
      // onnxruntime-web's heap after the head's steps, seen by every trainer of the process that shares it.
      expect(d.profile?.headPeakBytes?.embed, d.deviceId).toBeGreaterThanOrEqual(2 ** 20);
      expect(d.profile?.uplinkBps, d.deviceId).toBeGreaterThan(0);
    }
  });

  it('serves the published version to split inference, as the exported merged model predicts', async () => {
    if (!trained) throw new Error('the training test did not run');
    const { federationId, version } = trained;
    const ds = await loadFashionMnist();
    const indices = Array.from(trainTestSplit(ds, { seed: 0 }).test.subarray(0, 40));
    const batch = batchOf(ds, indices);

    const client = createSplitClient({
      baseUrl: worker.url,
      modelId: 'vit-fashion',
      version: `${federationId}@${version}`,
      encoding: 'fp32',
    });
    const split = await client.infer({ pixels: batch.pixels, batch: indices.length });
    await client.close();

    const manifest = Manifest.parse(JSON.parse(await readFile(join(ARTIFACTS, 'manifest.json'), 'utf8')));
    const admin = adminClient(worker.url, await localAdminKey());
    const values = parseSafetensors(await admin.adapters(federationId, version));
    const merged = exportVersion(
      await loadModel(join(ARTIFACTS, 'full.onnx')),
      manifest.training!,
      Object.fromEntries(values),
    );
    const session = await ort.InferenceSession.create(encodeModel(merged));
    const out = await session.run({
      [manifest.input.name]: new ort.Tensor('float32', batch.pixels, batch.shape),
    });
    await session.release();
    const logits = out[manifest.output.name].data as Float32Array;
    const whole = argmaxRows(logits, logits.length / indices.length);
    const agree = split.predictions.filter((p, i) => p[0].index === whole[i]).length;
    expect(agree / indices.length).toBeGreaterThanOrEqual(0.975);
    for (let i = 0; i < logits.length; i++) expect(Math.abs(split.logits[i] - logits[i])).toBeLessThan(1e-3);
  });

  it('aggregates securely to what plain FedAvg publishes, the coordinator seeing only the sum', async () => {
    // The same seeded round twice: plain FedAvg, then with the device updates masked. An fp32
    // downlink, because the gradient's stochastic rounding is seeded by the federation's id.
    const args = (secure: boolean) => [
      ...['--clients', '3', '--per-round', '3', '--rounds', '1', '--samples-per-client', '64'],
      ...['--eval-samples', '50', '--uplink', 'int8', '--downlink', 'fp32', '--seed', '5'],
      secure ? '--secure-aggregation' : '--fedavg',
    ];
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() }) as unknown as typeof process.stderr;
    const run = async (secure: boolean) => {
      const config = parseSimArgs(args(secure));
      return runSimulation(config, worker.url, simProgress(config.rounds, config.perRound, quiet));
    };
    const plain = await run(false);
    const secure = await run(true);
    expect(secure.rounds[0].status).toBe('published');
    expect(secure.rounds[0].participants).toBe(3);
    // A masked update carries 8 bytes per head value where a plain one carries 4, and the protocol talks besides.
    expect(secure.rounds[0].update_bytes!).toBeGreaterThan(plain.rounds[0].update_bytes!);
    expect(secure.rounds[0].protocol_bytes!).toBeGreaterThan(0);
    const admin = adminClient(worker.url, await localAdminKey());
    const a = parseSafetensors(await admin.adapters(plain.federation_id, 1));
    const b = parseSafetensors(await admin.adapters(secure.federation_id, 1));
    for (const [name, t] of a) {
      const x = t.data as Float32Array;
      const y = b.get(name)!.data as Float32Array;
      let err = 0;
      let norm = 0;
      for (let i = 0; i < x.length; i++) {
        err += (x[i] - y[i]) ** 2;
        norm += x[i] ** 2;
      }
      expect(Math.sqrt(err / Math.max(norm, 1e-30)), name).toBeLessThan(1e-4);
    }
  });

  it('trains one shared tail with every device’s steps in turn (SplitFed V2) and publishes it', async () => {
    const config = parseSimArgs([
      ...['--clients', '3', '--per-round', '3', '--rounds', '1', '--samples-per-client', '128'],
      ...['--eval-samples', '200', '--uplink', 'int8', '--splitfed', 'v2'],
    ]);
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() }) as unknown as typeof process.stderr;
    const results = await runSimulation(
      config,
      worker.url,
      simProgress(config.rounds, config.perRound, quiet),
    );
    const [round] = results.rounds;
    expect(round).toMatchObject({ status: 'published', participants: 3, splitfed: 'v2', edge_tails: 1 });
    expect(results.final_accuracy).toBeGreaterThan(results.initial_accuracy);
    const admin = adminClient(worker.url, await localAdminKey());
    expect((await admin.state(results.federation_id)).tailMsPerSample?.['vit-fashion']).toBeGreaterThan(0);
  });
});
