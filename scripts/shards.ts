// The shard Worker scripts, for local runs: one bundle (wrangler's own
// build, as deployed) that the vitest plugin loads once per pipeline position,
// and one wrangler config per position for `wrangler dev`. The positions are
// the main Worker's SHARD_<i> bindings in wrangler.toml.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SHARD_CONFIG = join(ROOT, 'workers', 'shard', 'wrangler.toml');
export const SHARD_BUNDLE_DIR = join(ROOT, 'dist', 'shard');
export const SHARD_CONFIG_DIR = join(ROOT, 'dist', 'shards');

export const shardScriptName = (i: number): string => `splitflare-shard-${i}`;

/** The number of SHARD_<i> service bindings in the main Worker's wrangler.toml. */
export function shardSlots(): number {
  const main = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  return [...main.matchAll(/^binding\s*=\s*"SHARD_(\d+)"/gm)].length;
}

/** Bundles the shard script with wrangler (no upload) into dist/shard/. */
export function bundleShard(): string {
  rmSync(SHARD_BUNDLE_DIR, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
      'deploy',
      '--dry-run',
      '-c',
      SHARD_CONFIG,
      '--outdir',
      SHARD_BUNDLE_DIR,
    ],
    { cwd: ROOT, stdio: 'pipe', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  return join(SHARD_BUNDLE_DIR, 'index.js');
}

/** One config per position, differing only in the script name, for `wrangler dev -c … -c …`. */
export function writeShardConfigs(): string[] {
  mkdirSync(SHARD_CONFIG_DIR, { recursive: true });
  const template = readFileSync(SHARD_CONFIG, 'utf8')
    .replace(/^name\s*=.*$/m, '')
    .replace(/^main\s*=.*$/m, '');
  const entry = join(ROOT, 'workers', 'shard', 'index.ts');
  return Array.from({ length: shardSlots() }, (_, i) => {
    const file = join(SHARD_CONFIG_DIR, `wrangler.${i}.toml`);
    writeFileSync(file, `name = "${shardScriptName(i)}"\nmain = ${JSON.stringify(entry)}\n${template}`);
    return file;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  bundleShard();
  writeShardConfigs();
}
