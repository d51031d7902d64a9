// The operator console (console/) as a person uses it, in Chromium, served by
// the Worker under `wrangler dev` at /console/: sign in with the admin key,
// create a federation with the form, enroll two devices, start it, and watch
// a round complete live while two devices train — the field app in a second
// page and the SDK's trainer in Node — then see the charts gain the round.
// Everything is done by clicking and typing; the live view is pushed over the
// coordinator's event stream. axe-core checks each view; the screenshots in
// docs/console/ are taken here (UPDATE_SCREENSHOTS=1). Skipped only where /usr/bin/chromium is
// missing; CI installs it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, type RoundReport, type Skipped } from '../../client-sdk/node.js';
import {
  batchOf,
  IDENTITY_NORMALIZATION,
  loadFashionMnist,
  NORMALIZATION,
  trainTestSplit,
} from '../../datasets/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { buildModels } from '../../scripts/build-models.js';
import { buildWeb } from '../../scripts/build-web.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';
import { expectNoSeriousViolations } from './a11y.js';
import { CHROMIUM, HAS_CHROMIUM, screenshotDir } from './harness.js';
import { pngOf } from './images.js';

const SHOTS = screenshotDir('console');
const FIELD_IMAGES = 12;
const NODE_IMAGES = 256;
const FEDERATION = `console-${Date.now().toString(36)}`;
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

if (!HAS_CHROMIUM) {
  console.warn(`browser tests skipped: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install chromium)`);
}

describe.skipIf(!HAS_CHROMIUM)('the operator console in Chromium, served by wrangler dev', () => {
  let worker: LocalWorker | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let files: string;
  let clothes: Array<{ file: string; label: number }>;
  const tokens = new Map<string, string>();
  const pageErrors: string[] = [];
  /** Every API request the console page made, "METHOD path". */
  const requests: string[] = [];

  beforeAll(async () => {
    await buildModels({ log: () => {} });
    await buildWeb({ log: () => {} });
    files = await mkdtemp(join(tmpdir(), 'console-'));
    const fashion = await loadFashionMnist({ normalization: IDENTITY_NORMALIZATION });
    const own = batchOf(fashion, trainTestSplit(fashion, { seed: 0 }).train.subarray(0, FIELD_IMAGES));
    clothes = [];
    for (let i = 0; i < FIELD_IMAGES; i++) {
      const file = join(files, `item-${String(i + 1).padStart(2, '0')}.png`);
      await writeFile(file, pngOf(own.pixels.subarray(i * 784, (i + 1) * 784), 28, 28));
      clothes.push({ file, label: own.labels[i] });
    }
    worker = await startLocalWorker({ publish: ['vit-fashion'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/v1/')) requests.push(`${r.method()} ${url.pathname}`);
    });
    await page.goto(`${worker.url}/console/`);
    await mkdir(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('asks for the admin key once, and says when it is wrong', async () => {
    await page.getByLabel('Admin key').fill('not-the-key');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/403 forbidden/);
    await expectNoSeriousViolations(page, 'sign in');
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await page.getByLabel('Admin key').fill(await localAdminKey());
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Federations' }).waitFor();
    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await page.getByRole('heading', { name: 'Federations' }).waitFor();
  });

  it('refuses an invalid federation before sending it, then creates one', async () => {
    await page.getByLabel('Federation id').fill('Not A Valid Id');
    await page.getByLabel('Quorum (updates a round needs at its deadline)').fill('5');
    const before = requests.filter((r) => r === 'POST /v1/federations').length;
    await page.getByRole('button', { name: 'Create federation' }).click();
    await expect(page.locator('#f-id-issue').textContent()).resolves.toMatch(/lower-case/);
    await expect(page.locator('.issue').allTextContents()).resolves.toContain(
      'quorum must not exceed clientsPerRound',
    );
    expect(requests.filter((r) => r === 'POST /v1/federations').length).toBe(before);
    await expectNoSeriousViolations(page, 'federations, invalid form');

    await page.getByLabel('Federation id').fill(FEDERATION);
    await page.getByLabel('Model', { exact: true }).selectOption('vit-fashion');
    await page.getByLabel('Rounds').fill('2');
    await page.getByLabel('Devices per round').fill('2');
    await page.getByLabel('Quorum (updates a round needs at its deadline)').fill('2');
    await page.getByLabel('Batch size').fill('8');
    await page.getByLabel('Local epochs').fill('2');
    await page.getByRole('button', { name: 'Create federation' }).click();
    await page.getByRole('heading', { name: FEDERATION, level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/federations/${FEDERATION}`);
  });

  it('enrolls two devices and shows each token once', async () => {
    for (const device of ['field-device', 'node-device']) {
      await page.getByLabel('Device id').fill(device);
      await page.getByRole('button', { name: 'Enroll' }).click();
      const token = page.getByLabel('Device token');
      await token.waitFor();
      tokens.set(device, await token.inputValue());
      if (device === 'node-device') {
        await expectNoSeriousViolations(page, 'federation, token shown');
      }
      await page.getByRole('button', { name: 'Done' }).click();
      await page.locator(`#devices-heading ~ table tr[data-device="${device}"]`).waitFor();
    }
    expect([...tokens.values()].every((t) => t.length > 20)).toBe(true);
    // Shown once: gone after Done.
    await page.getByLabel('Device token').waitFor({ state: 'detached' });
    await expect(
      page.locator('#devices-heading ~ table tr[data-device="node-device"] td').nth(1).textContent(),
    ).resolves.toBe('never');
  });

  it('starts the federation and shows a round live while both devices train, then charts it', async () => {
    await page.getByRole('button', { name: 'Start' }).click();
    await expect(page.getByTestId('round-status').textContent()).resolves.toMatch(/Round 1 of 2/);
    await expect(page.getByTestId('countdown').textContent()).resolves.toMatch(/Closes in/);
    expect(await page.locator('.charts').getAttribute('data-rounds')).toBe('0');

    // The SDK's trainer in Node: enough steps that the console sees them flow.
    const fashion = await loadFashionMnist({ normalization: NORMALIZATION['fashion-mnist'] });
    const own = batchOf(fashion, trainTestSplit(fashion, { seed: 1 }).train.subarray(0, NODE_IMAGES));
    const nodeTrainer = createTrainer({
      baseUrl: worker!.url,
      federationId: FEDERATION,
      token: tokens.get('node-device')!,
      dataset: { pixels: own.pixels, labels: own.labels, size: NODE_IMAGES },
      onWarning: () => {},
    });
    const nodeRound: Promise<RoundReport | Skipped> = nodeTrainer.runRound();

    const liveRow = page.locator('#live-heading ~ table tr[data-device="node-device"]');
    await page.waitForFunction(
      () => {
        const steps = document.querySelector(
          '#live-heading ~ table tr[data-device="node-device"] [data-testid="steps"]',
        );
        return Number(steps?.textContent ?? 0) > 0;
      },
      undefined,
      { timeout: 30_000 },
    );
    await expect(liveRow.locator('.badge').textContent()).resolves.toBe('joined');
    await page.screenshot({ path: join(SHOTS, 'live-round.png'), fullPage: true });

    // The field app, in a second page: the other device, by clicking.
    const phone = await browser!.newContext({ viewport: { width: 420, height: 900 } });
    const app = await phone.newPage();
    app.on('pageerror', (e) => pageErrors.push(`field app: ${e.message}`));
    await app.goto(`${worker!.url}/app/`);
    await app.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 20_000 });
    await app.getByRole('link', { name: 'Train' }).click();
    await app.getByLabel('Federation id').fill(FEDERATION);
    await app.getByLabel('Device token').fill(tokens.get('field-device')!);
    await app.getByLabel('Model the federation trains').selectOption('vit-fashion');
    await app.getByLabel('Add images').setInputFiles(clothes.map((c) => c.file));
    for (const [i, c] of clothes.entries()) {
      await app.getByLabel(`Label for image ${i + 1} (`).selectOption(String(c.label));
    }
    await app.getByRole('button', { name: 'Contribute a round' }).click();

    const report = await nodeRound;
    expect('skipped' in report).toBe(false);
    await app.locator('#train-report-title').waitFor({ timeout: 60_000 });
    await phone.close();

    // Pushed, not polled: the round's close and the next round's opening arrive on the stream.
    await page.waitForFunction(
      () => document.querySelector('.charts')?.getAttribute('data-rounds') === '1',
      undefined,
      {
        timeout: 30_000,
      },
    );
    await expect(page.getByTestId('round-status').textContent()).resolves.toMatch(/Round 2 of 2: open/);
    await expect(
      page.locator('#versions-heading ~ table tr[data-version="1"]').textContent(),
    ).resolves.toMatch(/published/);
    await expect(
      page.locator('#devices-heading ~ table tr[data-device="field-device"] td').nth(1).textContent(),
    ).resolves.not.toBe('never');
    await expect(page.getByTestId('connection').textContent()).resolves.toBe('live');
    await expectNoSeriousViolations(page, 'federation, after a round');
    await page.screenshot({ path: join(SHOTS, 'federation.png'), fullPage: true });
    await nodeTrainer.close();

    await page.getByRole('link', { name: '← Federations' }).click();
    const row = page.locator('tr', { hasText: FEDERATION });
    await expect(row.textContent()).resolves.toMatch(/2\/2 open/);
    await expectNoSeriousViolations(page, 'federations');
    await page.screenshot({ path: join(SHOTS, 'federations.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
