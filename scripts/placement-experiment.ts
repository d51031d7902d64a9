// `npm run experiment:placement -- [--requests N] [--speed S]`: inference
// latency of the SDK's dynamic placement against every fixed placement (all
// on the device, split at vit-fashion's embed cut, split at
// vit-fashion-deep's block1 cut) over links emulated in real time from 0.1 to
// 100 Mbit/s (each exchange waits its bytes at the rate plus a 40 ms round
// trip) on a local Worker. `--speed` makes the device slower than this
// machine (its compute is stretched by 1/speed), as a phone is. Writes
// results/placement/placement.json and a chart; prints a Markdown table.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import type { TopLevelSpec } from 'vega-lite';
import { createDynamicClient, createSplitClient, nodeSessionFactory } from '../client-sdk/node.js';
import type { SessionFactory } from '../client-sdk/runtime/types.js';
import { batchOf, loadDataset } from '../datasets/index.js';
import { buildModels } from './build-models.js';
import { intAtLeast } from './sim/baseline/config.js';
import { renderSvg } from './sim/charts.js';
import { startLocalWorker } from './wrangler-dev.js';

const OUT_DIR = 'results/placement';
const RATES_MBPS = [0.1, 0.3, 1, 3, 10, 30, 100];
const RTT_MS = 40;
const MODELS = ['vit-fashion', 'vit-fashion-deep'];

const opts = new Command('experiment:placement')
  .description('dynamic inference placement vs fixed placements over emulated links')
  .option('--requests <n>', 'requests per placement and rate (after the warm-up)', intAtLeast(1), 20)
  .option('--batch <n>', 'images per request', intAtLeast(1), 1)
  .option('--speed <s>', 'the device’s speed against this machine (its compute is stretched by 1/s)', '0.05')
  .parse()
  .opts();
const speed = Number(opts.speed);
if (!(speed > 0 && speed <= 1)) throw new Error('--speed must be in (0, 1]');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A link in real time for the inference requests: the request's bytes up,
 * the answer's bytes down, at `mbps`, plus the round trip. (The graphs are
 * downloaded once, before the timing, at loopback speed.)
 */
const linkAt = (mbps: number) => async (url: string, init: RequestInit) => {
  if (!url.includes('/infer')) return fetch(url, init);
  const up = init.body instanceof Uint8Array ? init.body.byteLength : 0;
  await sleep(RTT_MS / 2 + (up * 8) / (mbps * 1e3));
  const res = await fetch(url, init);
  const body = new Uint8Array(await res.arrayBuffer());
  await sleep(RTT_MS / 2 + (body.byteLength * 8) / (mbps * 1e3));
  return new Response(body, { status: res.status, headers: res.headers });
};

/** This machine's runtime, each run stretched to what a device `speed` times as fast would take. */
const slowDevice =
  (factory: SessionFactory): SessionFactory =>
  async (model) => {
    const session = await factory(model);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      async run(feeds) {
        const start = performance.now();
        const out = await session.run(feeds);
        await sleep((performance.now() - start) * (1 / speed - 1));
        return out;
      },
      release: () => session.release(),
    };
  };

const say = (s: string) => process.stderr.write(`${s}\n`);
await buildModels({ log: say });
const worker = await startLocalWorker();
const fashion = await loadDataset('fashion-mnist');
const sessionFactory = slowDevice(nodeSessionFactory({ numThreads: 1 }));
const rows: Array<{ mbps: number; placement: string; mean_ms: number; chosen?: Record<string, number> }> = [];
try {
  for (const mbps of RATES_MBPS) {
    const common = { baseUrl: worker.url, encoding: 'int8' as const, fetch: linkAt(mbps), sessionFactory };
    const fixed = [
      { name: 'device', client: createSplitClient({ ...common, modelId: MODELS[0], placement: 'device' }) },
      ...MODELS.map((m) => ({ name: `split at ${m}`, client: createSplitClient({ ...common, modelId: m }) })),
    ];
    const dynamic = createDynamicClient({ ...common, models: MODELS });
    const timeOf = async (infer: (i: number) => Promise<unknown>) => {
      // Warm-up: loading the graphs, and the dynamic client's two tries of each placement.
      for (let i = 0; i < 2 * (MODELS.length + 1); i++) await infer(i);
      const start = performance.now();
      for (let i = 0; i < opts.requests; i++) await infer(i);
      return (performance.now() - start) / opts.requests;
    };
    const input = (i: number) => {
      const indices = Array.from({ length: opts.batch }, (_, k) => (i * opts.batch + k) % fashion.size);
      return { pixels: batchOf(fashion, indices).pixels, batch: opts.batch };
    };
    for (const f of fixed) {
      rows.push({ mbps, placement: f.name, mean_ms: await timeOf((i) => f.client.infer(input(i))) });
      await f.client.close();
    }
    const chosen: Record<string, number> = {};
    const meanMs = await timeOf(async (i) => {
      const r = await dynamic.infer(input(i));
      chosen[r.placement] = (chosen[r.placement] ?? 0) + 1;
    });
    rows.push({ mbps, placement: 'dynamic', mean_ms: meanMs, chosen });
    await dynamic.close();
    say(
      `${mbps} Mbit/s: ${rows
        .filter((r) => r.mbps === mbps)
        .map((r) => `${r.placement} ${r.mean_ms.toFixed(0)} ms`)
        .join(', ')}`,
    );
  }
} finally {
  await worker.stop();
}

await mkdir(OUT_DIR, { recursive: true });
await writeFile(
  join(OUT_DIR, 'placement.json'),
  `${JSON.stringify({ speed, batch: opts.batch, requests: opts.requests, rttMs: RTT_MS, rows }, null, 2)}\n`,
);
const spec: TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: {
    text: 'Inference latency by link rate',
    subtitle: `batch ${opts.batch}, device at ${speed}× this machine, ${RTT_MS} ms round trip`,
  },
  width: 480,
  height: 300,
  data: { values: rows.map(({ chosen: _, ...r }) => r) },
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'mbps', type: 'quantitative', scale: { type: 'log' }, title: 'link (Mbit/s)' },
    y: { field: 'mean_ms', type: 'quantitative', scale: { type: 'log' }, title: 'mean latency (ms)' },
    color: { field: 'placement', type: 'nominal', title: null },
  },
};
await writeFile(join(OUT_DIR, 'latency-by-rate.svg'), await renderSvg(spec));

console.log(
  '| link | device | split at embed | split at block1 | dynamic | dynamic / best fixed | dynamic chose |',
);
console.log('|---|---|---|---|---|---|---|');
for (const mbps of RATES_MBPS) {
  const at = rows.filter((r) => r.mbps === mbps);
  const ms = (p: string) => at.find((r) => r.placement === p)!.mean_ms;
  const best = Math.min(ms('device'), ...MODELS.map((m) => ms(`split at ${m}`)));
  const dyn = at.find((r) => r.placement === 'dynamic')!;
  console.log(
    `| ${mbps} Mbit/s | ${ms('device').toFixed(0)} ms | ${ms(`split at ${MODELS[0]}`).toFixed(0)} ms | ` +
      `${ms(`split at ${MODELS[1]}`).toFixed(0)} ms | ${dyn.mean_ms.toFixed(0)} ms | ${(dyn.mean_ms / best).toFixed(2)} | ` +
      `${Object.entries(dyn.chosen ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} |`,
  );
}
