// Starts the Worker on workerd through `wrangler dev` on loopback and stops it
// again: used by `npm start`, the end-to-end tests, the benchmarks and the
// simulator, so they all exercise the same local runtime a developer gets.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

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
  /** A wrangler config other than the project's (the benchmarks' probe Worker). */
  config?: string;
  /** Path answered with 2xx once the Worker is up. */
  readyPath?: string;
  log?: (line: string) => void;
}

export async function startLocalWorker(opts: StartOptions = {}): Promise<LocalWorker> {
  const port = opts.port ?? (await freePort());
  const configArgs = opts.config ? ['--config', opts.config] : [];
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
  return { url, stop: () => kill(child) };
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
