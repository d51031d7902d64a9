// The pages the Worker serves as static assets (wrangler.toml [assets]):
// the operator console at /console/ (console/) and the field app at /app/
// (examples/field-app/), bundled with esbuild into web/dist/, and
// onnxruntime-web's WASM runtime at /ort/ for the field app.
//
// The field app imports the SDK as an application would, from its package
// (`@splitflare/client`, the npm workspace at client-sdk/), so the package is
// built first when its build is missing or older than its sources.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST = join(ROOT, 'web', 'dist');
/** What esbuild put in each page's bundle (for the size budget), kept out of the served files. */
export const WEB_META = join(ROOT, 'web', 'meta');
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const SDK = join(ROOT, 'client-sdk');

/**
 * The only runtime files the field app's ORT (the `onnxruntime-web/wasm`
 * build) loads: the plain SIMD build. The JSEP/WebGPU builds are over 25 MiB,
 * the largest file Workers static assets serve, and the app needs neither.
 */
const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];

interface Page {
  /** Served under /<name>/. */
  name: string;
  dir: string;
  entry: string;
}

const PAGES: Page[] = [
  { name: 'console', dir: join(ROOT, 'console'), entry: 'main.tsx' },
  { name: 'app', dir: join(ROOT, 'examples', 'field-app'), entry: 'main.ts' },
];

async function newestMtime(dir: string, skip: (name: string) => boolean): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(p, skip) : (await stat(p)).mtimeMs);
  }
  return newest;
}

/** Builds client-sdk/dist (tsup) unless it is newer than every source it bundles. */
export async function ensureSdkBuilt(log: (s: string) => void = console.log): Promise<void> {
  const built = await stat(join(SDK, 'dist', 'browser.js')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const skip = (n: string) => n === 'dist' || n === 'node_modules';
  const sources = Math.max(
    ...(await Promise.all(['client-sdk', 'protocol', 'common'].map((d) => newestMtime(join(ROOT, d), skip)))),
  );
  if (built > sources) return;
  log('web: building the SDK package (@splitflare/client)');
  execFileSync('npm', ['run', 'build', '-w', '@splitflare/client', '--silent'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

async function buildPage(page: Page): Promise<void> {
  const out = join(WEB_DIST, page.name);
  const result = await build({
    entryPoints: [join(page.dir, page.entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    splitting: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: out,
    entryNames: '[name]',
    metafile: true,
    logLevel: 'silent',
    loader: { '.css': 'css' },
  });
  if (result.errors.length > 0) throw new Error(result.errors.map((e) => e.text).join('; '));
  await copyFile(join(page.dir, 'index.html'), join(out, 'index.html'));
  await writeFile(join(WEB_META, `${page.name}.json`), JSON.stringify(result.metafile));
}

export async function buildWeb(options: { log?: (s: string) => void } = {}): Promise<void> {
  const log = options.log ?? console.log;
  await ensureSdkBuilt(log);
  await rm(WEB_DIST, { recursive: true, force: true });
  await mkdir(join(WEB_DIST, 'ort'), { recursive: true });
  await mkdir(WEB_META, { recursive: true });
  await Promise.all(PAGES.map(buildPage));
  for (const f of ORT_FILES) await copyFile(join(ORT_DIST, f), join(WEB_DIST, 'ort', f));
  log(`web: ${PAGES.map((p) => `/${p.name}/`).join(', ')} and /ort/ built into web/dist`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb();
}
