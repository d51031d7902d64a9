// Starts the Worker and its shard scripts on workerd through one `wrangler
// dev` on loopback (local R2 and Durable Objects, persisted under .wrangler/)
// and stops them again: used by `npm start`, the end-to-end tests, the
// benchmarks and the simulator, so they all exercise the same local runtime a
// developer gets. publishLocal() fills the local registry the way a deployment
// is filled, through the admin API.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PublishResult, publishModel } from '../models/registry/publish.js';
import { localAdminKey } from '../operator/admin-key.js';
import { buildWeb, WEB_DIST } from './build-web.js';
import { writeShardConfigs } from './shards.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRANGLER = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));

export interface LocalWorker {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  port?: number;
  timeoutMs?: number;
  /** A wrangler config other than the project's (the benchmarks' probe Worker); then no shard scripts start. */
  config?: string;
  /** Path answered with 2xx once the Worker is up. */
  readyPath?: string;
  /** Built models (artifacts/<id>/) to publish to the local registry once up; default: every one built. */
  publish?: readonly string[];
  log?: (line: string) => void;
}

export async function startLocalWorker(opts: StartOptions = {}): Promise<LocalWorker> {
  // wrangler.toml's [assets] directory must exist before wrangler dev starts.
  if (!opts.config && !existsSync(WEB_DIST)) await buildWeb({ log: () => {} });
  const port = opts.port ?? (await freePort());
  const configs = opts.config ? [opts.config] : [join(ROOT, 'wrangler.toml'), ...writeShardConfigs()];
  const configArgs = configs.flatMap((c) => ['--config', c]);
  const child = spawn(
    process.execPath,
    [
      WRANGLER,
      'dev',
      ...configArgs,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', FORCE_COLOR: '0', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    for (const line of text.split('\n')) if (line.trim()) opts.log?.(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${url}${opts.readyPath ?? '/v1/models'}`, child, opts.timeoutMs ?? 120_000, output);
  } catch (err) {
    await kill(child);
    throw err;
  }
  const worker = { url, stop: () => kill(child) };
  if (!opts.config) {
    try {
      await publishLocal(worker, opts.publish ?? builtModels());
    } catch (err) {
      await kill(child);
      throw err;
    }
  }
  return worker;
}

async function waitReady(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  output: string[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`wrangler dev exited with code ${child.exitCode}:\n${output.join('').slice(-4000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `wrangler dev did not become ready within ${timeoutMs} ms:\n${output.join('').slice(-4000)}`,
  );
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // wrangler spawns workerd as its own child: signal the whole process group.
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** Ids of the models built under artifacts/. */
export function builtModels(): string[] {
  const dir = join(ROOT, 'artifacts');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((id) => existsSync(join(dir, id, 'manifest.json')));
}

/** Publishes built models (artifacts/<id>/) to a local Worker's registry; already-present artifacts are skipped. */
export async function publishLocal(
  worker: LocalWorker,
  modelIds: readonly string[],
): Promise<PublishResult[]> {
  const adminKey = await localAdminKey();
  const results: PublishResult[] = [];
  for (const id of modelIds) {
    results.push(await publishModel(join(ROOT, 'artifacts', id), { baseUrl: worker.url, adminKey }));
  }
  return results;
}
