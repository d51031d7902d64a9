// Builds the deployable Workers without uploading them (`wrangler deploy
// --dry-run --outdir`): the main Worker and the shard script. Fails if either
// passes the 64 MiB Worker size limit. Models are not in either bundle; they
// live in the R2 registry.
//
// It also holds the pages the Worker serves to their budgets: the console's
// own JavaScript at most 150 kB gzip, and no static asset over the 25 MiB a
// Workers asset may be.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildWeb, WEB_DIST } from './build-web.js';
import { bundleShard, SHARD_BUNDLE_DIR } from './shards.js';

const CONSOLE_JS_GZIP_LIMIT = 150 * 1000;
const ASSET_LIMIT = 25 * 1024 * 1024;
await buildWeb();

const LIMIT = 64 * 1024 * 1024;
const root = fileURLToPath(new URL('..', import.meta.url));
const mainDir = join(root, 'dist', 'worker');
rmSync(mainDir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', mainDir],
  { cwd: root, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);
bundleShard();

function walk(dir: string, base = dir): Array<{ file: string; bytes: number }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [{ file: p.slice(base.length + 1), bytes: statSync(p).size }];
  });
}

let failed = false;
for (const [name, dir] of [
  ['main Worker', mainDir],
  ['shard script', SHARD_BUNDLE_DIR],
] as const) {
  const files = walk(dir).filter((f) => !f.file.endsWith('.map') && !f.file.endsWith('.md'));
  const total = files.reduce((a, f) => a + f.bytes, 0);
  console.log(`${name}:`);
  for (const f of files.sort((a, b) => b.bytes - a.bytes))
    console.log(`${(f.bytes / 2 ** 20).toFixed(2).padStart(8)} MiB  ${f.file}`);
  console.log(`${(total / 2 ** 20).toFixed(2).padStart(8)} MiB  total (limit 64 MiB)`);
  if (total > LIMIT) {
    console.error(`the ${name} exceeds the 64 MiB Worker limit`);
    failed = true;
  }
}
const assets = walk(WEB_DIST);
for (const f of assets.filter((a) => a.bytes > ASSET_LIMIT)) {
  console.error(`static asset ${f.file} is ${(f.bytes / 2 ** 20).toFixed(1)} MiB, over the 25 MiB limit`);
  failed = true;
}
const gzipOf = (files: Array<{ file: string }>) =>
  files.reduce((a, f) => a + gzipSync(readFileSync(join(WEB_DIST, f.file))).length, 0);
for (const page of ['console', 'app']) {
  const all = assets.filter((a) => a.file.startsWith(`${page}/`) && a.file.endsWith('.js'));
  // onnxruntime-web's own chunks (loaded on first inference) are not the page's code.
  const ort = all.filter((a) => /\/ort\.[^/]*\.js$/.test(a.file));
  const js = all.filter((a) => !ort.includes(a));
  const gzip = gzipOf(js);
  console.log(
    `/${page}/: ${js.length} JavaScript file(s), ${(gzip / 1000).toFixed(1)} kB gzip` +
      (ort.length > 0
        ? `, and onnxruntime-web's ${ort.length} chunk(s), ${(gzipOf(ort) / 1000).toFixed(1)} kB`
        : ''),
  );
  if (page === 'console' && gzip > CONSOLE_JS_GZIP_LIMIT) {
    console.error(`the console's JavaScript is ${(gzip / 1000).toFixed(1)} kB gzip, over its 150 kB budget`);
    failed = true;
  }
}
if (failed) process.exit(1);
