// The SDK's browser entry (client-sdk/browser.ts) in a real Chromium, against
// the Worker under `wrangler dev`: onnxruntime-web's WASM build runs the head
// in the page, the frame goes over HTTP to workerd, and the page ranks the
// logits. Skipped only where /usr/bin/chromium is missing; CI installs it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRows } from '../../common/predictions.js';
import { batchOf, loadMnist, trainTestSplit } from '../../datasets/index.js';
import { buildModels } from '../../scripts/build-models.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';
import { bundlePage, ORT_PREFIX, type PageServer, startPageServer } from './harness.js';
import type { InferOutcome, InferRequest } from './page/api.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const FULL_MODEL = fileURLToPath(new URL('../../artifacts/vit-mnist/full.onnx', import.meta.url));
const SAMPLES = 16;

if (!HAS_CHROMIUM) {
  console.warn(`browser tests skipped: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install chromium)`);
}

describe.skipIf(!HAS_CHROMIUM)('browser SDK in Chromium against wrangler dev', () => {
  let worker: LocalWorker | undefined;
  let server: PageServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  let pixels: number[];
  let unsplitTop1: number[];

  beforeAll(async () => {
    await buildModels({ log: () => {} });
    const [started, bundle] = await Promise.all([startLocalWorker(), bundlePage()]);
    worker = started;
    server = await startPageServer({ bundle, upstream: worker.url });

    const mnist = await loadMnist();
    const { test } = trainTestSplit(mnist, { seed: 0 });
    const batch = batchOf(mnist, test.subarray(0, SAMPLES));
    pixels = Array.from(batch.pixels);
    const session = await ortNode.InferenceSession.create(FULL_MODEL);
    try {
      const out = await session.run({ pixels: new ortNode.Tensor('float32', batch.pixels, batch.shape) });
      unsplitTop1 = Array.from(argmaxRows(out.logits.data as Float32Array, 10));
    } finally {
      await session.release();
    }

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => window.splitflare !== undefined, undefined, { timeout: 10_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await worker?.stop();
  });

  const inferInPage = (request: Omit<InferRequest, 'baseUrl' | 'wasmPaths'>): Promise<InferOutcome> => {
    const origin = (server as PageServer).url;
    const full: InferRequest = { ...request, baseUrl: origin, wasmPaths: `${origin}${ORT_PREFIX}` };
    return page.evaluate((r) => (window.splitflare as NonNullable<Window['splitflare']>).infer(r), full);
  };

  it('predicts what the unsplit model predicts, and int8 frames are under 30% of fp32', async () => {
    const outcomes: Record<string, InferOutcome> = {};
    for (const encoding of ['fp32', 'int8'] as const) {
      outcomes[encoding] = await inferInPage({ modelId: 'vit-mnist', encoding, pixels, batch: SAMPLES });
    }
    const fp32 = outcomes.fp32;
    const int8 = outcomes.int8;
    if (!fp32.ok) throw new Error(`fp32 failed in the page: ${JSON.stringify(fp32.error)}`);
    if (!int8.ok) throw new Error(`int8 failed in the page: ${JSON.stringify(int8.error)}`);

    expect(fp32.top1).toEqual(unsplitTop1);
    expect(int8.top1).toEqual(unsplitTop1);
    expect(int8.stats.bytesUp / fp32.stats.bytesUp).toBeLessThan(0.3);
    expect(fp32.stats.attempts).toBe(1);
    // The WASM came from our server through `wasmPaths`, not from a CDN or a
    // path guessed from the bundle's URL.
    expect(server?.served.some((p) => p.startsWith(ORT_PREFIX) && p.endsWith('.wasm'))).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it("delivers the SDK's typed error to the page for an unknown model", async () => {
    const outcome = await inferInPage({
      modelId: 'no-such-model',
      encoding: 'int8',
      pixels: pixels.slice(0, 784),
      batch: 1,
    });
    if (outcome.ok) throw new Error('an unknown model answered with predictions');
    expect(outcome.error).toMatchObject({
      name: 'ProblemError',
      isProblemError: true,
      isSplitflareError: true,
      code: 'problem',
      slug: 'unknown-model',
      status: 404,
    });
    expect(pageErrors).toEqual([]);
  });
});
