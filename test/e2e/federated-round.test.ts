// Split federated fine-tuning over real HTTP on loopback: three device
// trainers (the SDK in Node) against the Worker, its coordinator and session
// Durable Objects under `wrangler dev`. The training loss goes down and the
// published model gets better on held-out data.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModels } from '../../scripts/build-models.js';
import { parseSimArgs } from '../../scripts/sim/config.js';
import { simProgress } from '../../scripts/sim/progress.js';
import { runSimulation } from '../../scripts/sim/run.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';

let worker: LocalWorker;

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
  });
});
