// What the browser test needs around Chromium: the page bundled with esbuild,
// and one loopback HTTP server that serves the page, its bundle and
// onnxruntime-web's runtime files, and reverse-proxies the Worker's API.
//
// Why a proxy rather than pointing the page at the Worker: the Worker sends no
// CORS headers (yet), so a page on another origin could not read its answers.
// Serving the page and `/v1/*` from one origin keeps the test about the SDK in
// a browser, not about CORS policy, and leaves workers/ untouched. The proxy
// pipes bytes unchanged, so the frames and stats the page sees are the Worker's.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const ENTRY = fileURLToPath(new URL('./page/main.ts', import.meta.url));

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

/** The page's script and its lazily loaded chunks, by file name. */
export async function bundlePage(): Promise<Map<string, Uint8Array>> {
  const result = await build({
    entryPoints: { main: ENTRY },
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

export interface PageServer {
  /** Origin of the page, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Paths served so far, for checking what the browser fetched. */
  served: string[];
  close(): Promise<void>;
}

export async function startPageServer(options: {
  bundle: Map<string, Uint8Array>;
  /** Origin of the Worker that `/v1/*` is forwarded to. */
  upstream: string;
}): Promise<PageServer> {
  const upstream = new URL(options.upstream);
  const served: string[] = [];

  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
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
      const file = await readFile(join(ORT_DIST, name)).catch(() => undefined);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
