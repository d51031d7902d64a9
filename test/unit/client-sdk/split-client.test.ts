import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  createSplitClient,
  InputError,
  IntegrityError,
  ManifestError,
  type NodeSplitClientOptions,
  ProblemError,
  ProtocolError,
  type SplitClient,
  TimeoutError,
  TransportError,
} from '../../../client-sdk/node.js';
import { decodeFrame } from '../../../protocol/frame.js';
import { FRAME_CONTENT_TYPE } from '../../../protocol/media.js';
import { fakeTailServer, sendProblem, type TailOptions } from './fixtures/fake-tail.js';
import {
  CLASSES,
  expectedActivation,
  fakeTail,
  headModelBytes,
  LABELS,
  MODEL_ID,
  manifestFor,
  OUT_FEATURES,
  randomPixels,
  TOKENS,
} from './fixtures/head-model.js';
import { startServer, type TestServer } from './fixtures/http-server.js';

let server: TestServer;
const clients: SplitClient[] = [];

beforeEach(async () => {
  server = await startServer(fakeTailServer());
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

function client(options: Partial<NodeSplitClientOptions> = {}): SplitClient {
  const c = createSplitClient({
    baseUrl: server.baseUrl,
    modelId: MODEL_ID,
    encoding: 'fp32',
    retryPolicy: { baseDelayMs: 1, maxDelayMs: 5 },
    ...options,
  });
  clients.push(c);
  return c;
}

function serve(options: TailOptions): void {
  server.handle(fakeTailServer(options));
}

/** Answers the first `times` infer requests with `respond`, the rest normally. */
function failInfer(times: number, respond: (res: ServerResponse) => void): void {
  let left = times;
  serve({
    intercept(req, res) {
      if (!req.path.endsWith('/infer') || left === 0) return false;
      left--;
      respond(res);
      return true;
    },
  });
}

const batchOf = (batch: number) => ({ pixels: randomPixels(batch), batch });

describe('createSplitClient (node, onnxruntime-web)', () => {
  it('runs the head, posts the activation frame and ranks the returned logits', async () => {
    const c = client();
    const input = batchOf(2);
    const result = await c.infer(input, { topK: 2 });

    const posted = server.requests.find((r) => r.path.endsWith('/infer'))!;
    expect(posted.method).toBe('POST');
    expect(posted.headers['content-type']).toBe(FRAME_CONTENT_TYPE);
    const frame = decodeFrame(posted.body);
    expect(frame.header.shape).toEqual([2, 1, TOKENS, OUT_FEATURES]);
    expect(frame.header.encoding).toBe('fp32');
    const expected = expectedActivation(input.pixels, 2);
    frame.data.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 5);
    });

    const logits = fakeTail(frame.data, 2);
    expect(result.shape).toEqual([2, CLASSES]);
    expect(result.logits).toEqual(logits);
    expect(result.predictions).toHaveLength(2);
    for (let b = 0; b < 2; b++) {
      const row = Array.from(logits.subarray(b * CLASSES, (b + 1) * CLASSES));
      const best = row.indexOf(Math.max(...row));
      const [top, second] = result.predictions[b];
      expect(top.index).toBe(best);
      expect(top.label).toBe(LABELS[best]);
      expect(top.score).toBeGreaterThanOrEqual(second.score);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      expect(top.score).toBeCloseTo(Math.exp(row[best]) / z, 6);
    }
    expect(result.stats).toMatchObject({ bytesUp: posted.body.byteLength, attempts: 1 });
    expect(result.stats.bytesDown).toBe(12 + 4 * 2 + 4 * 2 * CLASSES);
    for (const k of ['headMs', 'encodeMs', 'roundTripMs'] as const)
      expect(result.stats[k]).toBeGreaterThanOrEqual(0);
  });

  it('quantizes with the chosen encoding and granularity', async () => {
    const c = client({ encoding: 'int8', granularity: 'tensor' });
    const input = batchOf(1);
    const result = await c.infer(input);
    const frame = decodeFrame(server.requests.find((r) => r.path.endsWith('/infer'))!.body);
    expect(frame.header).toMatchObject({ encoding: 'int8', granularity: 'tensor' });
    const exact = expectedActivation(input.pixels, 1);
    const maxAbs = Math.max(...exact.map(Math.abs));
    frame.data.forEach((v, i) => {
      expect(Math.abs(v - exact[i])).toBeLessThanOrEqual(maxAbs / 127);
    });
    expect(result.stats.bytesUp).toBe(12 + 4 * 4 + 4 + TOKENS * OUT_FEATURES);
    expect(result.predictions[0]).toHaveLength(CLASSES);
  });

  it('downloads and verifies the manifest and head once for concurrent calls', async () => {
    const c = client();
    const results = await Promise.all([c.infer(batchOf(1)), c.infer(batchOf(3)), c.manifest()]);
    expect(results[1].shape).toEqual([3, CLASSES]);
    expect(server.count('/manifest')).toBe(1);
    expect(server.count('/head')).toBe(1);
    expect(server.count('/infer')).toBe(2);
  });

  it('rejects a head whose sha256 differs from the manifest', async () => {
    const good = headModelBytes();
    const tampered = headModelBytes(new Float32Array(32).fill(1));
    expect(tampered.byteLength).toBe(good.byteLength);
    serve({ head: tampered, manifest: manifestFor(good) });
    const error = await client()
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toContain('sha256');
    expect(server.count('/infer')).toBe(0);
  });

  it('turns a 422 problem into a ProblemError with its slug, without retrying', async () => {
    failInfer(5, (res) => sendProblem(res, 422, 'shape-not-allowed', 'batch 2 is not allowed'));
    const error = await client({ retries: 3 })
      .infer(batchOf(2))
      .catch((e) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({
      status: 422,
      slug: 'shape-not-allowed',
      type: 'urn:splitflare:problem:shape-not-allowed',
      title: 'shape not allowed',
      detail: 'batch 2 is not allowed',
      attempts: 1,
    });
    expect(server.count('/infer')).toBe(1);
  });

  it('does not retry a 500', async () => {
    failInfer(5, (res) => sendProblem(res, 500, 'internal', 'boom'));
    const error = await client({ retries: 3 })
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toMatchObject({ status: 500, slug: 'internal' });
    expect(server.count('/infer')).toBe(1);
  });

  it('retries 503 and succeeds on the third attempt', async () => {
    failInfer(2, (res) => sendProblem(res, 503, 'unavailable', 'warming up'));
    const result = await client({ retries: 3 }).infer(batchOf(1));
    expect(result.stats.attempts).toBe(3);
    expect(server.count('/infer')).toBe(3);
  });

  it('gives up on a persistent 503 after the configured retries', async () => {
    failInfer(10, (res) => sendProblem(res, 503, 'unavailable', 'down'));
    const error = await client({ retries: 2 })
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status: 503, attempts: 3 });
    expect(server.count('/infer')).toBe(3);
  });

  it('retries 429 after Retry-After: 0', async () => {
    failInfer(1, (res) => sendProblem(res, 429, 'too-many-requests', 'slow down', { 'retry-after': '0' }));
    // A backoff this long would time the call out: only Retry-After can make it pass.
    const result = await client({
      retryPolicy: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      timeoutMs: 5_000,
    }).infer(batchOf(1));
    expect(result.stats.attempts).toBe(2);
  });

  it('returns the 429 at once when Retry-After exceeds what the client waits', async () => {
    failInfer(1, (res) => sendProblem(res, 429, 'too-many-requests', 'later', { 'retry-after': '3600' }));
    const error = await client()
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toMatchObject({ status: 429, slug: 'too-many-requests', attempts: 1 });
  });

  it('fails with TimeoutError when the tail does not answer in time', async () => {
    serve({ intercept: (req) => req.path.endsWith('/infer') /* never answers */ });
    const error = await client({ timeoutMs: 300 })
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(300);
  });

  it('fails with AbortError when the caller aborts, keeping the reason', async () => {
    serve({ intercept: (req) => req.path.endsWith('/infer') });
    const controller = new AbortController();
    const pending = client({ timeoutMs: 10_000 }).infer(batchOf(1), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user left')), 200);
    const error = await pending.catch((e) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect((error.cause as Error).message).toBe('user left');
  });

  it('fails at once for a signal that is already aborted', async () => {
    const error = await client()
      .infer(batchOf(1), { signal: AbortSignal.abort() })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(server.requests).toHaveLength(0);
  });

  it('reports network failures as TransportError after retrying', async () => {
    const dead = await startServer();
    const baseUrl = dead.baseUrl;
    await dead.close();
    const error = await client({ baseUrl, retries: 2 })
      .manifest()
      .catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error.attempts).toBe(3);
  });

  it('forgets a failed load so the next call tries again', async () => {
    let failures = 1;
    serve({
      intercept(req, res) {
        if (!req.path.endsWith('/head') || failures === 0) return false;
        failures--;
        sendProblem(res, 503, 'unavailable', 'once');
        return true;
      },
    });
    const c = client({ retries: 0 });
    await expect(c.infer(batchOf(1))).rejects.toBeInstanceOf(ProblemError);
    await expect(c.infer(batchOf(1))).resolves.toMatchObject({ shape: [1, CLASSES] });
    expect(server.count('/head')).toBe(2);
  });

  it('rejects a batch that does not fit the input before touching the network', async () => {
    const c = client();
    await c.manifest();
    const before = server.requests.length;
    await expect(c.infer({ pixels: new Float32Array(15), batch: 1 })).rejects.toBeInstanceOf(InputError);
    await expect(c.infer({ pixels: new Float32Array(16 * 9), batch: 9 })).rejects.toThrow(/maximum of 8/);
    const nan = randomPixels(1);
    nan[3] = Number.NaN;
    await expect(c.infer({ pixels: nan, batch: 1 })).rejects.toThrow(/pixel 3/);
    expect(server.requests.length).toBe(before);
  });

  it('refuses an encoding the tail does not accept', async () => {
    const error = await client({ encoding: 'int2' })
      .infer(batchOf(1))
      .catch((e) => e);
    expect(error).toBeInstanceOf(ManifestError);
    expect(error.message).toMatch(/int2/);
    expect(server.count('/infer')).toBe(0);
  });

  it('rejects an invalid manifest and one for another model', async () => {
    serve({ manifest: { ...manifestFor(headModelBytes()), schema: 'other/1' } });
    await expect(client().manifest()).rejects.toBeInstanceOf(ManifestError);
    serve({ manifest: { ...manifestFor(headModelBytes()), modelId: 'someone-else' } });
    await expect(client().manifest()).rejects.toThrow(/someone-else/);
  });

  it('rejects a 2xx infer answer that is not a logits frame', async () => {
    serve({
      intercept(req, res) {
        if (!req.path.endsWith('/infer')) return false;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"predictions":[]}');
        return true;
      },
    });
    await expect(client().infer(batchOf(1))).rejects.toBeInstanceOf(ProtocolError);
  });

  it('sends extra headers and keeps a base path prefix', async () => {
    const inner = fakeTailServer();
    server.handle((req, res) => inner({ ...req, path: req.path.replace(/^\/edge/, '') }, res));
    await client({ baseUrl: `${server.baseUrl}/edge/`, headers: { authorization: 'Bearer t0ken' } }).infer(
      batchOf(1),
    );
    expect(server.requests.every((r) => r.path.startsWith('/edge/v1/models/'))).toBe(true);
    expect(server.requests.every((r) => r.headers.authorization === 'Bearer t0ken')).toBe(true);
  });
});
