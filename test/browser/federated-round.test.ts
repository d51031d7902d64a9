// One federated split fine-tuning round with a device in a real Chromium: the
// SDK's browser trainer runs the head graphs on onnxruntime-web's WASM build
// in the page and steps against the Worker's session Durable Object under
// `wrangler dev`, while a second device (the SDK in Node) trains in the same
// round at the same time. The round publishes only if both updates land, so
// the coordinator's history is the check that the browser's submit counted.
// Skipped only where /usr/bin/chromium is missing; CI installs it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, type RoundReport, type Skipped, type TrainerEvents } from '../../client-sdk/node.js';
import { batchOf, loadFashionMnist, trainTestSplit } from '../../datasets/index.js';
import { localAdminKey } from '../../operator/admin-key.js';
import { type AdminClient, adminClient } from '../../operator/client.js';
import type { FederationState } from '../../protocol/federation.js';
import { frameSize } from '../../protocol/frame.js';
import { Manifest } from '../../protocol/manifest.js';
import { decodeStepRequest, stepRequestSize } from '../../protocol/step.js';
import { federationConfig, parseSimArgs } from '../../scripts/sim/config.js';
import { type BrowserRig, CHROMIUM, HAS_CHROMIUM, ORT_PREFIX, startBrowserRig } from './harness.js';
import type { TrainOutcome, TrainRequest } from './page/api.js';

const MODEL_ID = 'vit-fashion';
const MANIFEST = fileURLToPath(new URL(`../../artifacts/${MODEL_ID}/manifest.json`, import.meta.url));
const SAMPLES_PER_DEVICE = 64;
const BATCH = 16;
const BROWSER_DEVICE = 'browser-device';
const NODE_DEVICE = 'node-device';
const PUBLISH_TIMEOUT_MS = 15_000;

if (!HAS_CHROMIUM) {
  console.warn(`browser tests skipped: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install chromium)`);
}

/** Waits until `round` is settled (published or failed); the coordinator may still be folding updates. */
async function waitForRound(admin: AdminClient, fid: string, round: number): Promise<FederationState> {
  const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
  for (;;) {
    const state = await admin.state(fid);
    const current = state.currentRound;
    if (
      current &&
      current.round === round &&
      (current.status === 'published' || current.status === 'failed')
    ) {
      return state;
    }
    if (Date.now() > deadline) {
      throw new Error(`round ${round} not settled after ${PUBLISH_TIMEOUT_MS} ms: ${JSON.stringify(state)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function assertTrained(result: RoundReport | Skipped, who: string): RoundReport {
  if ('skipped' in result) throw new Error(`${who} skipped the round: ${result.skipped}`);
  return result;
}

describe.skipIf(!HAS_CHROMIUM)('federated round with a device in Chromium against wrangler dev', () => {
  let rig: BrowserRig | undefined;
  let admin: AdminClient;
  let cutShape: number[];
  let granularities: readonly string[];
  let browserData: { pixels: number[]; labels: number[] };
  let nodeData: { pixels: Float32Array; labels: Int32Array; size: number };

  beforeAll(async () => {
    rig = await startBrowserRig('train');
    admin = adminClient(rig.worker.url, await localAdminKey());

    const manifest = Manifest.parse(JSON.parse(await readFile(MANIFEST, 'utf8')));
    // The cut tensor's shape without its symbolic batch: what one example costs on the wire.
    cutShape = manifest.cut.tensor.shape.slice(1).map(Number);
    granularities = manifest.wire.granularities;

    // Two disjoint slices of the seeded train split: each device's own data.
    const fashion = await loadFashionMnist();
    const { train } = trainTestSplit(fashion, { seed: 0 });
    const forBrowser = batchOf(fashion, train.subarray(0, SAMPLES_PER_DEVICE));
    const forNode = batchOf(fashion, train.subarray(SAMPLES_PER_DEVICE, 2 * SAMPLES_PER_DEVICE));
    browserData = { pixels: Array.from(forBrowser.pixels), labels: Array.from(forBrowser.labels) };
    nodeData = { pixels: forNode.pixels, labels: forNode.labels, size: SAMPLES_PER_DEVICE };
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('trains and submits from the page alongside a Node device, and the round publishes with both', async () => {
    const { page, server, wasmPaths, pageErrors, worker } = rig as BrowserRig;
    // wrangler dev keeps Durable Object state between runs, so the id must be new each time.
    const fid = `browser-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    await admin.create(
      fid,
      federationConfig(
        parseSimArgs([
          '--clients',
          '2',
          '--per-round',
          '2',
          '--rounds',
          '1',
          '--quorum',
          '2',
          '--batch',
          String(BATCH),
          '--uplink',
          'int8',
          '--downlink',
          'int8',
          '--model',
          MODEL_ID,
        ]),
      ),
    );
    const browserToken = (await admin.enroll(fid, BROWSER_DEVICE)).token;
    const nodeToken = (await admin.enroll(fid, NODE_DEVICE)).token;
    await admin.start(fid);

    const request: TrainRequest = {
      baseUrl: server.url,
      federationId: fid,
      token: browserToken,
      ...browserData,
      seed: 1,
      wasmPaths,
      calibrate: MODEL_ID,
    };
    const inBrowser = page.evaluate(
      (r) => (window.splitflareTrainer as NonNullable<Window['splitflareTrainer']>).runRound(r),
      request,
    );

    const nodeSteps: TrainerEvents['step'][] = [];
    const nodeTrainer = createTrainer({
      baseUrl: worker.url,
      federationId: fid,
      token: nodeToken,
      dataset: nodeData,
      seed: 2,
      numThreads: 1,
    });
    nodeTrainer.on('step', (e) => nodeSteps.push(e));
    const inNode = nodeTrainer
      .calibrate(MODEL_ID)
      .then(() => nodeTrainer.runRound())
      .finally(() => nodeTrainer.close());

    const [browserOutcome, nodeResult]: [TrainOutcome, RoundReport | Skipped] = await Promise.all([
      inBrowser,
      inNode,
    ]);
    if (!browserOutcome.ok)
      throw new Error(`the page's round failed: ${JSON.stringify(browserOutcome.error)}`);
    const browser = assertTrained(browserOutcome.result, 'the browser device');
    const node = assertTrained(nodeResult, 'the Node device');

    // Both devices trained: every step answered with a finite loss.
    for (const [report, steps] of [
      [browser, browserOutcome.steps],
      [node, nodeSteps],
    ] as const) {
      expect(report.steps).toBeGreaterThan(0);
      expect(steps).toHaveLength(report.steps);
      expect(Number.isFinite(report.meanLoss)).toBe(true);
      for (const s of steps) expect(Number.isFinite(s.loss)).toBe(true);
      expect(report.samples).toBe(SAMPLES_PER_DEVICE);
    }
    expect(browserOutcome.ticket).toMatchObject({
      deviceId: BROWSER_DEVICE,
      uplink: 'int8',
      batchSize: BATCH,
    });

    // The browser's uplink is exactly its steps' int8 frames in their step
    // envelopes: computed here from the cut shape and each step's batch, and
    // seen again on the wire by the page server's proxy.
    const granularity = granularities.includes('token') ? 'token' : 'tensor';
    const implied = (encoding: 'int8' | 'fp32', g: 'token' | 'tensor') =>
      browserOutcome.steps.reduce(
        (sum, s) => sum + stepRequestSize(s.batch, frameSize([s.batch, ...cutShape], encoding, g)),
        0,
      );
    const int8Bytes = implied('int8', granularity);
    expect(browser.uplinkBytes).toBe(int8Bytes);
    expect(browser.uplinkBytes).toBeGreaterThan(0);
    expect(browser.uplinkBytes).toBeLessThan(implied('fp32', 'tensor'));

    const stepPath = new RegExp(`^/v1/federations/${fid}/rounds/0/steps/\\d+$`);
    const wireSteps = server.proxied.filter((r) => r.method === 'POST' && stepPath.test(r.path));
    // One request per step: no retries on loopback, so the counts compare one to one.
    expect(wireSteps).toHaveLength(browser.steps);
    for (const [i, r] of wireSteps.entries()) {
      expect(r.status).toBe(200);
      const { header, labels } = decodeStepRequest(r.body);
      expect(header.encoding).toBe('int8');
      expect(header.granularity).toBe(granularity);
      expect(header.shape).toEqual([browserOutcome.steps[i].batch, ...cutShape]);
      expect(labels).toHaveLength(browserOutcome.steps[i].batch);
    }
    expect(wireSteps.reduce((sum, r) => sum + r.body.byteLength, 0)).toBe(browser.uplinkBytes);

    // The coordinator published round 0 from both updates.
    const state = await waitForRound(admin, fid, 0);
    expect(state.currentRound).toMatchObject({ round: 0, status: 'published', participants: 2 });
    expect(state.latestVersion).toBe(1);
    const [round0] = (await admin.history(fid)).filter((r) => r.round === 0);
    expect(round0).toMatchObject({
      status: 'published',
      participants: 2,
      samples: 2 * SAMPLES_PER_DEVICE,
      publishedVersion: 1,
      // The sessions count the step bodies they applied; with no retries that is the devices' sum.
      uplinkBytes: browser.uplinkBytes + node.uplinkBytes,
    });
    expect([...round0.selected].sort()).toEqual([BROWSER_DEVICE, NODE_DEVICE].sort());
    // Each device joined with the profile its calibration measured, the page's with onnxruntime-web's heap
    // after the head's step, caught where the page's onnxruntime instantiated it.
    const profiles = new Map((await admin.devices(fid)).map((d) => [d.deviceId, d.profile]));
    for (const id of [BROWSER_DEVICE, NODE_DEVICE])
      expect(profiles.get(id)?.headPeakBytes?.[browserOutcome.ticket!.cut], id).toBeGreaterThanOrEqual(
        2 ** 20,
      );

    // The head graphs' runtime came from the page server via wasmPaths.
    expect(server.served.some((p) => p.startsWith(ORT_PREFIX) && p.endsWith('.wasm'))).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
