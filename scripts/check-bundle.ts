// Builds the deployable Workers without uploading them (`wrangler deploy
// --dry-run --outdir`): the main Worker and the shard script. Fails if either
// passes the 64 MiB Worker size limit. Models are not in either bundle; they
// live in the R2 registry.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleShard, SHARD_BUNDLE_DIR } from './shards.js';

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
if (failed) process.exit(1);
