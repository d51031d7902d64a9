// The SDK's browser entry (client-sdk/browser.ts) in a real Chromium, against
// the Worker under `wrangler dev`: onnxruntime-web's WASM build runs the head
// in the page, the frame goes over HTTP to workerd, and the page ranks the
// logits. Skipped only where /usr/bin/chromium is missing; CI installs it.
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRows } from '../../common/predictions.js';
import { batchOf, loadMnist, trainTestSplit } from '../../datasets/index.js';
import { type BrowserRig, CHROMIUM, HAS_CHROMIUM, ORT_PREFIX, startBrowserRig } from './harness.js';
import type { InferOutcome, InferRequest } from './page/api.js';

const FULL_MODEL = fileURLToPath(new URL('../../artifacts/vit-mnist/full.onnx', import.meta.url));
const SAMPLES = 16;

if (!HAS_CHROMIUM) {
  console.warn(`browser tests skipped: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install chromium)`);
}

describe.skipIf(!HAS_CHROMIUM)('browser SDK in Chromium against wrangler dev', () => {
  let rig: BrowserRig | undefined;
  let pixels: number[];
  let unsplitTop1: number[];

  beforeAll(async () => {
    rig = await startBrowserRig('main');

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
  });

  afterAll(async () => {
    await rig?.close();
  });

  const inferInPage = (request: Omit<InferRequest, 'baseUrl' | 'wasmPaths'>): Promise<InferOutcome> => {
    const { server, page, wasmPaths } = rig as BrowserRig;
    const full: InferRequest = { ...request, baseUrl: server.url, wasmPaths };
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
    expect(rig?.server.served.some((p) => p.startsWith(ORT_PREFIX) && p.endsWith('.wasm'))).toBe(true);
    expect(rig?.pageErrors).toEqual([]);
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
    expect(rig?.pageErrors).toEqual([]);
  });
});
