// The device SDK in Node against the Worker under `wrangler dev` (workerd),
// over real HTTP on loopback: the path `npm start` takes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDynamicClient,
  createSplitClient,
  ManifestError,
  ProblemError,
} from '../../client-sdk/node.js';
import { batchOf, loadDataset, loadMnist } from '../../datasets/index.js';
import { FRAME_CONTENT_TYPE } from '../../protocol/media.js';
import { buildModels } from '../../scripts/build-models.js';
import { evaluateSplit } from '../../scripts/split-eval.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';

let worker: LocalWorker;

beforeAll(async () => {
  await buildModels({ log: () => {} });
  worker = await startLocalWorker();
});

afterAll(async () => {
  await worker?.stop();
});

describe('split inference over loopback HTTP', () => {
  it('agrees with the unsplit model and sends fewer bytes as the bit width drops', async () => {
    const results = await evaluateSplit({
      baseUrl: worker.url,
      modelId: 'vit-mnist',
      encodings: ['fp32', 'int8', 'int4'],
      samples: 200,
      batchSize: 50,
    });
    const [fp32, int8, int4] = results;
    expect(fp32.agreement).toBe(1);
    expect(int8.agreement).toBeGreaterThanOrEqual(0.99);
    expect(int4.agreement).toBeGreaterThanOrEqual(0.97);
    expect(fp32.bytes_per_sample).toBeCloseTo(fp32.fp32_bytes_per_sample, 0);
    expect(int8.bytes_per_sample / fp32.bytes_per_sample).toBeLessThan(0.3);
    expect(int4.bytes_per_sample / fp32.bytes_per_sample).toBeLessThan(0.16);
  });

  it('reports server problems as typed errors', async () => {
    const mnist = await loadMnist();
    const batch = batchOf(mnist, [0, 1]);
    const unknown = createSplitClient({
      baseUrl: worker.url,
      modelId: 'no-such-model',
      encoding: 'int8',
      retries: 0,
    });
    const err = await unknown.infer({ pixels: batch.pixels, batch: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).slug).toBe('unknown-model');
    expect((err as ProblemError).status).toBe(404);

    const deep = createSplitClient({ baseUrl: worker.url, modelId: 'vit-mnist-deep', encoding: 'fp32' });
    await expect(deep.infer({ pixels: batch.pixels, batch: 2 })).rejects.toBeInstanceOf(ManifestError);
  });

  it('answers a raw malformed frame with 400 problem+json', async () => {
    const res = await fetch(`${worker.url}/v1/models/vit-mnist/infer`, {
      method: 'POST',
      body: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
      headers: { 'content-type': FRAME_CONTENT_TYPE },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });

  it('places each request where it is expected to be fastest: split at either cut or all on the device', async () => {
    const fashion = await loadDataset('fashion-mnist');
    const batch = batchOf(fashion, [0, 1, 2, 3]);
    const input = { pixels: batch.pixels, batch: 4 };
    // A slow link: every exchange takes 300 ms more, as over a congested cell.
    const slowFetch = async (url: string, init: RequestInit) => {
      await new Promise((r) => setTimeout(r, 300));
      return fetch(url, init);
    };
    const client = createDynamicClient({
      baseUrl: worker.url,
      models: ['vit-fashion', 'vit-fashion-deep'],
      // fp32, so the three placements compute the same function and must agree.
      encoding: 'fp32',
      fetch: slowFetch,
    });
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await client.infer(input));
    // Each placement is tried twice (the first run pays for setup), and all three agree on the classes.
    expect(first.map((r) => r.placement).sort()).toEqual([
      'device',
      'device',
      'vit-fashion',
      'vit-fashion',
      'vit-fashion-deep',
      'vit-fashion-deep',
    ]);
    const classes = first.map((r) => r.predictions.map((p) => p[0].index));
    expect(classes[1]).toEqual(classes[0]);
    expect(classes[2]).toEqual(classes[0]);
    for (const r of first.filter((r) => r.placement !== 'device')) {
      expect(r.stats.serverMs).toBeGreaterThanOrEqual(0);
      expect(r.stats.bytesUp).toBeGreaterThan(0);
    }
    // Then the device, with nothing to send over the slow link.
    const expected = await client.expected(4);
    expect(expected.device).toBeLessThan(Math.min(expected['vit-fashion'], expected['vit-fashion-deep']));
    for (let i = 0; i < 3; i++) expect((await client.infer(input)).placement).toBe('device');
    await client.close();
  });
});
