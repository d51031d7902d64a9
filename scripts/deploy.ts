// `npm run deploy`: `wrangler deploy` of every shard script (one per SHARD_<i>
// binding of wrangler.toml, all built from workers/shard/) and then of the
// main Worker, which binds them. Models are not part of the deployment:
// publish them with `splitflare-models publish <dir> --to <worker url>`.
// The console and the field app are: they are built first and uploaded as
// the main Worker's static assets.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb } from './build-web.js';
import { SHARD_CONFIG, shardScriptName, shardSlots } from './shards.js';

await buildWeb();

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const wrangler = (args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), ...args], {
    cwd: ROOT,
    stdio: 'inherit',
  });

const extra = process.argv.slice(2);
for (let i = 0; i < shardSlots(); i++) {
  wrangler(['deploy', '-c', SHARD_CONFIG, '--name', shardScriptName(i), ...extra]);
}
wrangler(['deploy', ...extra]);
