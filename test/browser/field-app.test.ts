// The field app (examples/field-app/) as a person uses it, in Chromium, served
// by the Worker itself under `wrangler dev`: the page from Workers static
// assets at /app/, the API at /v1/ on the same origin. A digit image is
// predicted; then a federated round is contributed from labelled images
// through a pause, an offline spell and a link that drops requests, and the
// coordinator publishes it. axe-core checks each view; the screenshots in
// docs/field-app/ are taken here (UPDATE_SCREENSHOTS=1). Skipped only where /usr/bin/chromium is
// missing; CI installs it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topKPredictions } from '../../common/predictions.js';
import {
  batchOf,
  IDENTITY_NORMALIZATION,
  loadFashionMnist,
  loadMnist,
  NORMALIZATION,
  trainTestSplit,
} from '../../datasets/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { type AdminClient, adminClient } from '../../operator/client.js';
import type { RoundRecord } from '../../protocol/federation.js';
import { buildModels } from '../../scripts/build-models.js';
import { buildWeb } from '../../scripts/build-web.js';
import { federationConfig, parseSimArgs } from '../../scripts/sim/config.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';
import { expectNoSeriousViolations } from './a11y.js';
import { CHROMIUM, HAS_CHROMIUM, screenshotDir } from './harness.js';
import { pngOf } from './images.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = screenshotDir('field-app');
const FULL_MNIST = join(ROOT, 'artifacts', 'vit-mnist', 'full.onnx');
const TRAIN_IMAGES = 12;
const BATCH = 4;
const LOCAL_EPOCHS = 2;
const STEPS = Math.ceil(TRAIN_IMAGES / BATCH) * LOCAL_EPOCHS;
const DEVICE = 'field-device';

if (!HAS_CHROMIUM) {
  console.warn(`browser tests skipped: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install chromium)`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A definition list's terms and values. */
function definitions(dl: Locator): Promise<Record<string, string>> {
  return dl.evaluate((el) =>
    Object.fromEntries(
      [...el.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? '']),
    ),
  );
}

/** Round `round`'s record once it is settled (published or failed); the next round may already be open. */
async function settledRound(admin: AdminClient, fid: string, round: number): Promise<RoundRecord> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const record = (await admin.history(fid)).find((r) => r.round === round);
    if (record?.status === 'published' || record?.status === 'failed') return record;
    if (Date.now() > deadline) throw new Error(`round ${round} not settled: ${JSON.stringify(record)}`);
    await sleep(200);
  }
}

describe.skipIf(!HAS_CHROMIUM)('the field app in Chromium, served by wrangler dev', () => {
  let worker: LocalWorker | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let admin: AdminClient;
  let files: string;
  const pageErrors: string[] = [];
  /** The digit to predict, which the unsplit model gets right with a clear margin. */
  let digit: { file: string; darkOnLight: string; label: string };
  let fashion: { file: string; label: number }[];

  beforeAll(async () => {
    await buildModels({ log: () => {} });
    await buildWeb({ log: () => {} });
    files = await mkdtemp(join(tmpdir(), 'field-app-'));

    const mnist = await loadMnist({ normalization: IDENTITY_NORMALIZATION });
    const { test } = trainTestSplit(mnist, { seed: 0 });
    const candidates = test.subarray(0, 32);
    const raw = batchOf(mnist, candidates);
    const normalized = batchOf(await loadMnist({ normalization: NORMALIZATION.mnist }), candidates);
    const session = await ortNode.InferenceSession.create(FULL_MNIST);
    let logits: Float32Array;
    try {
      const out = await session.run({
        pixels: new ortNode.Tensor('float32', normalized.pixels, normalized.shape),
      });
      logits = out.logits.data as Float32Array;
    } finally {
      await session.release();
    }
    const top = topKPredictions(logits, [candidates.length, 10], 1);
    const pick = top.findIndex((row, i) => row[0].index === raw.labels[i] && row[0].score > 0.9);
    expect(pick).toBeGreaterThanOrEqual(0);
    const label = String(raw.labels[pick]);
    digit = { file: join(files, `digit-${label}.png`), darkOnLight: join(files, `ink-${label}.png`), label };
    const pixels = raw.pixels.subarray(pick * 784, (pick + 1) * 784);
    await writeFile(digit.file, pngOf(pixels, 28, 28));
    await writeFile(
      digit.darkOnLight,
      pngOf(
        pixels.map((v) => 1 - v),
        28,
        28,
      ),
    );

    const clothes = await loadFashionMnist({ normalization: IDENTITY_NORMALIZATION });
    const split = trainTestSplit(clothes, { seed: 0 });
    const own = batchOf(clothes, split.train.subarray(0, TRAIN_IMAGES));
    fashion = [];
    for (let i = 0; i < TRAIN_IMAGES; i++) {
      const file = join(files, `clothes-${String(i + 1).padStart(2, '0')}.png`);
      await writeFile(file, pngOf(own.pixels.subarray(i * 784, (i + 1) * 784), 28, 28));
      fashion.push({ file, label: own.labels[i] });
    }

    worker = await startLocalWorker({ publish: ['vit-mnist', 'vit-fashion'] });
    admin = adminClient(worker.url, await localAdminKey());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    // A phone's width: the layout the app is made for.
    context = await browser.newContext({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 2 });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${worker.url}/app/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 20_000 });
    await mkdir(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('predicts a chosen image: top 5 with scores, bytes and latency, and the privacy warning', async () => {
    const view = page.locator('#predict-view');
    const result = view.locator('.result');
    await page.getByLabel('Model', { exact: true }).selectOption('vit-mnist');
    await page.getByLabel('Encoding of what is sent').selectOption('int8');
    await page.getByLabel('Choose an image').setInputFiles(digit.file);

    await page.waitForFunction(() => document.querySelectorAll('#predict-view .topk li').length === 5);
    const labels = await view.locator('.topk .label').allTextContents();
    const scores = (await view.locator('.topk .score').allTextContents()).map((s) => Number.parseFloat(s));
    expect(labels[0]).toBe(digit.label);
    expect(new Set(labels).size).toBe(5);
    expect(scores[0]).toBeGreaterThan(50);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const int8Bytes = Number(await result.getAttribute('data-bytes-up'));
    expect(int8Bytes).toBeGreaterThan(0);
    const stats = await definitions(view.locator('.stats'));
    expect(stats.Sent).toMatch(/^[\d.]+ k?B \(int8\)$/);
    expect(stats.Received).toMatch(/^[\d.]+ k?B$/);
    expect(stats['First layers on this device']).toMatch(/^[\d.]+ ms$/);
    expect(stats['Round trip to the edge']).toMatch(/^[\d.]+ ms$/);
    expect(stats.Attempts).toBe('1');
    // vit-mnist is cut right after its patch embedding: the SDK warns, and the page shows it.
    await expect(view.getByRole('note').textContent()).resolves.toMatch(/reconstruct the input/);

    // The same image over fp32 costs about four times the bytes and predicts the same.
    await page.getByLabel('Encoding of what is sent').selectOption('fp32');
    await page.waitForFunction(
      (before) => document.querySelector<HTMLElement>('#predict-view .result')?.dataset.bytesUp !== before,
      String(int8Bytes),
    );
    const fp32Bytes = Number(await result.getAttribute('data-bytes-up'));
    expect(int8Bytes / fp32Bytes).toBeLessThan(0.3);
    expect(await view.locator('.topk .label').first().textContent()).toBe(digit.label);

    await page.getByLabel('Encoding of what is sent').selectOption('int8');
    await page.waitForFunction(
      (want) => document.querySelector<HTMLElement>('#predict-view .result')?.dataset.bytesUp === want,
      String(int8Bytes),
    );

    // A photo of dark ink on light paper, from the camera input: inverted, it is the same digit.
    await view.getByLabel('Invert colours').check();
    await page.getByLabel('Take a photo').setInputFiles(digit.darkOnLight);
    await page.waitForFunction(
      (name) => document.querySelector<HTMLElement>('#predict-view .result')?.dataset.image === name,
      basename(digit.darkOnLight),
    );
    expect(await view.locator('.topk .label').first().textContent()).toBe(digit.label);

    await expectNoSeriousViolations(page, 'predict');
    await page.screenshot({ path: join(SHOTS, 'inference.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('contributes a round from labelled images through a pause, an offline spell and a dropping link', async () => {
    const fid = `field-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    await admin.create(
      fid,
      federationConfig(
        parseSimArgs([
          ...['--clients', '1', '--per-round', '1', '--quorum', '1', '--rounds', '2'],
          ...['--batch', String(BATCH), '--local-epochs', String(LOCAL_EPOCHS)],
          ...['--uplink', 'int8', '--downlink', 'int8', '--model', 'vit-fashion'],
        ]),
      ),
    );
    const { token } = await admin.enroll(fid, DEVICE);
    await admin.start(fid);

    await page.getByRole('link', { name: 'Train' }).click();
    const view = page.locator('#train-view');
    // The view switches on the hash change, after the click returns.
    await view.waitFor({ state: 'visible' });
    await page.getByLabel('Federation id').fill(fid);
    await page.getByLabel('Device token').fill(token);
    await page.getByLabel('Model the federation trains').selectOption('vit-fashion');
    await page.getByLabel('Add images').setInputFiles(fashion.map((f) => f.file));
    for (const [i, f] of fashion.entries()) {
      await page.getByLabel(`Label for image ${i + 1} (`).selectOption(String(f.label));
    }
    await expect(page.locator('#train-count').textContent()).resolves.toBe(
      `${TRAIN_IMAGES} images, ${TRAIN_IMAGES} labelled.`,
    );
    await expectNoSeriousViolations(page, 'train, before the round');

    const link = page.locator('#train-link');
    const linkData = async () => ({
      failed: Number(await link.getAttribute('data-failed')),
      waiting: Number(await link.getAttribute('data-waiting')),
      online: await link.getAttribute('data-online'),
    });
    const stepsDone = async () => Number((await page.locator('#train-progress').getAttribute('value')) ?? 0);
    const apiRequests: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) apiRequests.push(`${r.method()} ${r.url()}`);
    });

    await page.getByRole('button', { name: 'Contribute a round' }).click();
    await expect.poll(stepsDone, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(1);

    // Pause: the exchange in flight finishes, the next request waits in the page, nothing else leaves.
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(async () => (await linkData()).waiting, { timeout: 30_000 }).toBe(1);
    const atPause = await stepsDone();
    const sentAtPause = apiRequests.length;
    expect(atPause).toBeLessThan(STEPS);
    await sleep(1500);
    expect(await stepsDone()).toBe(atPause);
    expect(apiRequests.length).toBe(sentAtPause);

    // Resume on an offline device: the browser knows, so requests wait for the network.
    await context.setOffline(true);
    await expect.poll(async () => (await linkData()).online).toBe('false');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(async () => await link.getAttribute('data-paused')).toBe('false');
    await sleep(2500);
    expect((await linkData()).waiting).toBe(1);
    expect(await stepsDone()).toBe(atPause);
    expect(await link.textContent()).toMatch(/offline/);

    // Back online, but the link drops every request for a while: the SDK retries with backoff.
    let dropped = 0;
    await page.route('**/v1/**', (route) => {
      dropped++;
      return route.abort('connectionreset');
    });
    await context.setOffline(false);
    await expect.poll(async () => (await linkData()).failed, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(await link.textContent()).toMatch(/link dropped, retrying/);
    await sleep(2000);
    await page.unroute('**/v1/**');
    expect(dropped).toBeGreaterThanOrEqual(2);

    await page.waitForSelector('#train-view[data-state="done"]', { timeout: 120_000 });
    await expect(view.locator('.report h3').textContent()).resolves.toBe('Round 0 report');
    const report = await definitions(view.locator('.report .stats'));
    expect(report).toMatchObject({
      Steps: String(STEPS),
      Images: `${TRAIN_IMAGES} (${TRAIN_IMAGES * LOCAL_EPOCHS} passes)`,
      'Devices in the round so far': '1',
    });
    expect(Number(report['Mean loss'])).toBeGreaterThan(0);
    expect(report['Sent (activations)']).toMatch(/^[\d.]+ k?B$/);
    expect(await stepsDone()).toBe(STEPS);
    expect((await linkData()).failed).toBe(dropped);
    expect(await view.getByRole('log').textContent()).toMatch(/Link back after/);

    // The coordinator published round 0 from this device's update.
    const round0 = await settledRound(admin, fid, 0);
    expect(round0).toMatchObject({
      status: 'published',
      participants: 1,
      samples: TRAIN_IMAGES * LOCAL_EPOCHS,
      publishedVersion: 1,
    });
    expect((await admin.state(fid)).latestVersion).toBe(1);
    expect(round0.selected).toEqual([DEVICE]);

    await expectNoSeriousViolations(page, 'train, after the round');
    // The view's end, where the round is (above it, the list of images runs long at this width).
    await page.setViewportSize({ width: 420, height: 1250 });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.screenshot({ path: join(SHOTS, 'training.png') });
    // The token lives in the tab's session storage only.
    expect(await page.evaluate(() => localStorage.getItem('splitflare.token'))).toBeNull();
    expect(await page.evaluate(() => sessionStorage.getItem('splitflare.token'))).toBe(token);
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
