// What the browser tests need around Chromium: a page bundled with esbuild,
// one loopback HTTP server that serves the page, its bundle and
// onnxruntime-web's runtime files and reverse-proxies the Worker's API, and
// `startBrowserRig`, which brings all of it up with the Worker and Chromium.
//
// Why a proxy rather than pointing the page at the Worker: serving the page
// and `/v1/*` from one origin keeps the test about the SDK in a browser (the
// Worker's CORS policy is tested in test/workers), and lets the test see every
// request the page makes. The proxy pipes bytes unchanged, so the frames and
// stats the page sees are the Worker's.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildModels } from '../../scripts/build-models.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Where a test's screenshots of `view` go: docs/<view>/ when
 * UPDATE_SCREENSHOTS=1 (the README shows those), else results/screenshots/,
 * so that a test run leaves the checkout as it found it.
 */
export function screenshotDir(view: string): string {
  return process.env.UPDATE_SCREENSHOTS === '1'
    ? join(ROOT, 'docs', view)
    : join(ROOT, 'results', 'screenshots', view);
}
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/**
 * The page scripts under page/: `main` drives the split client (inference),
 * `train` the federated trainer. One per test file, so each bundle holds only
 * the SDK surface its test is about.
 */
export type PageEntry = 'main' | 'train';

/**
 * A page script outside page/, resolving its imports from `workingDir`'s
 * node_modules (an application that installed the SDK's package), with
 * onnxruntime-web's runtime files served from `ortDist`.
 */
export interface ExternalPage {
  file: string;
  workingDir: string;
  ortDist: string;
}

/** Path prefixes the server answers under. */
export const BUNDLE_PREFIX = '/bundle/';
export const ORT_PREFIX = '/ort/';

const INDEX_HTML = `<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <title>splitflare browser test</title>
    <!-- No favicon request: every fetch the page makes is one the test expects. -->
    <link rel="icon" href="data:,">
  </head>
  <body><script type="module" src="${BUNDLE_PREFIX}main.js"></script></body>
</html>
`;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  // instantiateStreaming refuses any other type.
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** The page's script and its lazily loaded chunks, by file name; the script is always `main.js`. */
export async function bundlePage(entry: PageEntry | ExternalPage = 'main'): Promise<Map<string, Uint8Array>> {
  const external = typeof entry === 'object' ? entry : undefined;
  const result = await build({
    // One output name whatever the entry, so the index page needs no variants.
    entryPoints: { main: external?.file ?? fileURLToPath(new URL(`./page/${entry}.ts`, import.meta.url)) },
    ...(external ? { absWorkingDir: external.workingDir } : {}),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    // Splitting keeps browser.ts's dynamic import of onnxruntime-web a separate
    // chunk, so the page loads the way an application's would.
    splitting: true,
    outdir: '/bundle',
    write: false,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
  return new Map(result.outputFiles.map((f) => [basename(f.path), f.contents]));
}

/** One request the server forwarded to the Worker, as the browser sent it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The request body's bytes (empty for GET). */
  body: Uint8Array;
  /** The Worker's status; 0 when the upstream request failed. */
  status: number;
}

export interface PageServer {
  /** Origin of the page, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Paths served so far, for checking what the browser fetched. */
  served: string[];
  /**
   * Requests forwarded to the Worker, in arrival order. The bodies are what
   * went over the page's wire, seen outside the SDK, so a test can check the
   * SDK's own byte counts against them.
   */
  proxied: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startPageServer(options: {
  bundle: Map<string, Uint8Array>;
  /** Origin of the Worker that `/v1/*` is forwarded to. */
  upstream: string;
  /** onnxruntime-web's dist directory; default this repository's. */
  ortDist?: string;
}): Promise<PageServer> {
  const ortDist = options.ortDist ?? ORT_DIST;
  const upstream = new URL(options.upstream);
  const served: string[] = [];
  const proxied: ProxiedRequest[] = [];

  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const entry: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://localhost').pathname,
      body: new Uint8Array(0),
      status: 0,
    };
    proxied.push(entry);
    // Listening alongside pipe() sees the same chunks without consuming them.
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      entry.body = new Uint8Array(Buffer.concat(chunks));
    });
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', (e) => {
      if (res.headersSent) res.destroy(e);
      else send(res, 502, `proxy: ${e.message}`, 'text/plain');
    });
    req.pipe(forward);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path.startsWith('/v1/')) return proxy(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only', 'text/plain');
    served.push(path);
    if (path === '/' || path === '/index.html') return send(res, 200, INDEX_HTML, MIME['.html']);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const type = MIME[extname(name)] ?? 'application/octet-stream';
    if (path === `${BUNDLE_PREFIX}${name}`) {
      const file = options.bundle.get(name);
      return file ? send(res, 200, file, type) : send(res, 404, 'not found', 'text/plain');
    }
    // One flat directory and a strict name pattern: nothing outside ORT's dist
    // can be reached, whatever the browser asks for.
    if (path === `${ORT_PREFIX}${name}` && /^[\w.-]+$/.test(name) && !name.startsWith('.')) {
      const file = await readFile(join(ortDist, name)).catch(() => undefined);
      return file ? send(res, 200, file, type) : send(res, 404, 'not found', 'text/plain');
    }
    send(res, 404, 'not found', 'text/plain');
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, String(e), 'text/plain');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    proxied,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface BrowserRig {
  worker: LocalWorker;
  server: PageServer;
  browser: Browser;
  /** The page, loaded and ready (its script has installed its API). */
  page: Page;
  /** Uncaught exceptions in the page, as they happen. */
  pageErrors: string[];
  /** Where the page's onnxruntime-web fetches its .wasm/.mjs: this server, not a CDN. */
  wasmPaths: string;
  close(): Promise<void>;
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The models built, the Worker under `wrangler dev`, the page server in front
 * of it, Chromium, and one page of `entry` loaded. One rig per test file:
 * vitest runs files in separate workers, and a Worker of their own keeps each
 * file's Durable Object traffic out of the other's timings.
 */
export async function startBrowserRig(entry: PageEntry | ExternalPage): Promise<BrowserRig> {
  const started: { close(): Promise<void> }[] = [];
  // Teardown in reverse start order; each step runs even if an earlier one fails.
  const closeAll = async () => {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    started.length = 0;
  };
  try {
    await buildModels({ log: () => {} });
    // Settled rather than all: a bundle error must not leave a started Worker behind.
    const [workerResult, bundleResult] = await Promise.allSettled([startLocalWorker(), bundlePage(entry)]);
    if (workerResult.status === 'fulfilled') started.push({ close: () => workerResult.value.stop() });
    if (workerResult.status === 'rejected') throw workerResult.reason;
    if (bundleResult.status === 'rejected') throw bundleResult.reason;
    const worker = workerResult.value;
    const bundle = bundleResult.value;
    const ortDist = typeof entry === 'object' ? entry.ortDist : undefined;
    const server = await startPageServer({ bundle, upstream: worker.url, ortDist });
    started.push(server);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    started.push(browser);
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    // Each page script sets this last, after installing its API on window.
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 10_000 });
    return {
      worker,
      server,
      browser,
      page,
      pageErrors,
      wasmPaths: `${server.url}${ORT_PREFIX}`,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
