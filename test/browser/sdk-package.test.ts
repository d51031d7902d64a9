// The SDK as a user gets it: `npm pack` of client-sdk/, the tarball installed
// into a fresh project outside this repository (with onnxruntime-web, its peer),
// and used from there, through the package's own `exports` map:
// - in Node, a split inference against the Worker under `wrangler dev` agrees
//   with the unsplit model, and a TypeScript consumer type-checks against the
//   package's declarations;
// - in Chromium, a page bundled by esbuild from the installed package infers
//   against the same Worker.
// The Node half runs wherever the suite does; the Chromium half needs
// /usr/bin/chromium, as the rest of this project.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRows } from '../../common/predictions.js';
import { buildModels } from '../../scripts/build-models.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';
import { type BrowserRig, HAS_CHROMIUM, startBrowserRig } from './harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SDK = join(ROOT, 'client-sdk');
const MODEL_ID = 'vit-mnist';

interface Samples {
  inputShape: number[];
  pixels: number[];
  labels: number[];
  logits: number[];
  logitsShape: number[];
}

let project: string;
let samples: Samples;
let expected: number[];

/** The installed package's consumer: Node runs it, and tsc checks it against the package's types. */
const NODE_CONSUMER = `
import { readFileSync } from 'node:fs';
import { createSplitClient, createTrainer, ProblemError } from '@splitflare/client';

const [samplesFile, baseUrl] = process.argv.slice(2);
const samples: { pixels: number[]; labels: number[] } = JSON.parse(readFileSync(samplesFile, 'utf8'));
const warnings: string[] = [];
const client = createSplitClient({ baseUrl, modelId: '${MODEL_ID}', encoding: 'fp32', onWarning: (w) => warnings.push(w) });
const result = await client.infer({ pixels: Float32Array.from(samples.pixels), batch: samples.labels.length });
await client.close();
let problem = '';
try {
  await createSplitClient({ baseUrl, modelId: 'no-such-model', encoding: 'int8', retries: 0 }).manifest();
} catch (e) {
  if (e instanceof ProblemError) problem = e.type;
}
console.log(JSON.stringify({
  top1: result.predictions.map((row) => row[0].index),
  bytesUp: result.stats.bytesUp,
  warnings: warnings.length,
  trainer: typeof createTrainer,
  problem,
}));
`;

const PAGE = `
import { createSplitClient } from '@splitflare/client';

window.infer = async (baseUrl, wasmPaths, pixels, batch) => {
  const client = createSplitClient({ baseUrl, modelId: '${MODEL_ID}', encoding: 'int8', wasmPaths, numThreads: 1, retries: 0, onWarning: () => {} });
  try {
    const result = await client.infer({ pixels: Float32Array.from(pixels), batch });
    return result.predictions.map((row) => row[0].index);
  } finally {
    await client.close();
  }
};
document.body.dataset.ready = 'true';
`;

beforeAll(async () => {
  samples = JSON.parse(await readFile(join(ROOT, 'artifacts', MODEL_ID, 'samples.json'), 'utf8'));
  expected = Array.from(argmaxRows(Float32Array.from(samples.logits), samples.logitsShape.at(-1)!));
  project = await mkdtemp(join(tmpdir(), 'splitflare-sdk-consumer-'));
  // prepack builds dist/ (tsup): the tarball holds what a registry would serve.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: SDK });
  const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
  const ortVersion = JSON.parse(
    await readFile(join(ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8'),
  ).version as string;
  const typesNodeVersion = JSON.parse(
    await readFile(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8'),
  ).version as string;
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  // The npm cache holds every dependency after the repository's own install, so this needs no network.
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      join(project, filename),
      `onnxruntime-web@${ortVersion}`,
      // The consumer is type-checked as a Node program.
      `@types/node@${typesNodeVersion}`,
    ],
    { cwd: project },
  );
}, 300_000);

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the SDK package, installed from its tarball', () => {
  it('ships only its build, its README and its manifest, with the exports map conditions', async () => {
    const installed = join(project, 'node_modules/@splitflare/client');
    const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.peerDependencies).toHaveProperty('onnxruntime-web');
    expect(Object.keys(pkg.exports['.'])).toEqual(['browser', 'node', 'types', 'default']);
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: SDK });
    const files = (JSON.parse(stdout)[0].files as Array<{ path: string }>).map((f) => f.path);
    expect(files).toContain('dist/node.d.ts');
    expect(files).toContain('README.md');
    expect(files.every((f) => f.startsWith('dist/') || f === 'README.md' || f === 'package.json')).toBe(true);
  });

  describe('in Node', () => {
    let worker: LocalWorker;
    beforeAll(async () => {
      await buildModels({ log: () => {} });
      worker = await startLocalWorker({ publish: [MODEL_ID] });
    }, 180_000);
    afterAll(async () => worker?.stop());

    it('type-checks a consumer and infers as the unsplit model does', async () => {
      await writeFile(join(project, 'consumer.mts'), NODE_CONSUMER);
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            types: ['node'],
            lib: ['es2022', 'dom'],
            noEmit: true,
            skipLibCheck: false,
          },
          files: ['consumer.mts'],
        }),
      );
      await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], {
        cwd: project,
      }).catch((err: { stdout?: string }) => {
        throw new Error(`tsc refused the consumer:\n${err.stdout ?? err}`);
      });
      // Node strips the types itself (22.18+), so what runs is the checked file.
      const samplesFile = join(project, 'samples.json');
      await writeFile(samplesFile, JSON.stringify(samples));
      const { stdout } = await run(process.execPath, ['consumer.mts', samplesFile, worker.url], {
        cwd: project,
      });
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(out.top1).toEqual(expected);
      expect(out.bytesUp).toBeGreaterThan(0);
      expect(out.warnings).toBe(1);
      expect(out.trainer).toBe('function');
      expect(out.problem).toMatch(/unknown-model$/);
    }, 120_000);
  });

  describe.skipIf(!HAS_CHROMIUM)('in Chromium', () => {
    let rig: BrowserRig;
    beforeAll(async () => {
      const file = join(project, 'page.js');
      await writeFile(file, PAGE);
      rig = await startBrowserRig({
        file,
        workingDir: project,
        ortDist: join(project, 'node_modules/onnxruntime-web/dist'),
      });
    }, 180_000);
    afterAll(async () => rig?.close());

    it('infers from a page bundled from the installed package', async () => {
      const top1 = await rig.page.evaluate(
        ([base, wasm, pixels, batch]) =>
          (
            window as unknown as {
              infer: (b: string, w: string, p: number[], n: number) => Promise<number[]>;
            }
          ).infer(base, wasm, pixels, batch),
        [rig.server.url, rig.wasmPaths, samples.pixels, samples.labels.length] as const,
      );
      // int8 over the uplink: the same classes as the unsplit model on these samples.
      expect(top1).toEqual(expected);
      expect(rig.pageErrors).toEqual([]);
      expect(rig.server.served.some((p) => p.endsWith('.wasm'))).toBe(true);
    }, 120_000);
  });
});
