// Builds the deployable Worker without uploading it (`wrangler deploy
// --dry-run --outdir`) and fails if it passes the 64 MiB Worker size limit.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIMIT = 64 * 1024 * 1024;
const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'worker');
rmSync(outdir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir],
  { cwd: root, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);

function walk(dir: string): Array<{ file: string; bytes: number }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : [{ file: p.slice(outdir.length + 1), bytes: statSync(p).size }];
  });
}
const files = walk(outdir).filter((f) => !f.file.endsWith('.map'));
const total = files.reduce((a, f) => a + f.bytes, 0);
for (const f of files.sort((a, b) => b.bytes - a.bytes))
  console.log(`${(f.bytes / 2 ** 20).toFixed(2).padStart(8)} MiB  ${f.file}`);
console.log(`${(total / 2 ** 20).toFixed(2).padStart(8)} MiB  total (limit 64 MiB)`);
if (total > LIMIT) {
  console.error('bundle exceeds the 64 MiB Worker limit');
  process.exit(1);
}
