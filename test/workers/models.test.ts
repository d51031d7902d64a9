import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import samples from '../../artifacts/vit-mnist/samples.json';
import { argmaxRows } from '../../common/predictions.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import { Manifest } from '../../protocol/manifest.js';
import { FRAME_CONTENT_TYPE } from '../../protocol/media.js';
import { problemType } from '../../protocol/problem.js';
import { call, postFrame, problemOf } from './helpers.js';

const activation = { shape: samples.activationShape, data: Float32Array.from(samples.activation) };
const expectedLogits = Float32Array.from(samples.logits);
const rows = samples.activationShape[0];

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

describe('model catalogue', () => {
  it('lists the bundled models', async () => {
    const res = await call('/v1/models');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { models: Array<{ id: string; cut: string }> };
    expect(body.models.map((m) => m.id)).toContain('vit-mnist');
  });

  it('serves a manifest that validates and a head whose sha256 matches it', async () => {
    const manifest = Manifest.parse(await (await call('/v1/models/vit-mnist/manifest')).json());
    expect(manifest.cut.tensor.shape[0]).toBe('batch');
    const head = await call('/v1/models/vit-mnist/head');
    expect(head.status).toBe(200);
    const bytes = await head.arrayBuffer();
    expect(bytes.byteLength).toBe(manifest.artifacts.head.bytes);
    expect(await sha256Hex(bytes)).toBe(manifest.artifacts.head.sha256);
    const again = await call('/v1/models/vit-mnist/head', {
      headers: { 'if-none-match': head.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
  });

  it('lets browsers on other origins call the API (CORS preflight and exposed headers)', async () => {
    const preflight = await call('/v1/models/vit-mnist/infer', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const res = await call('/v1/models/vit-mnist/manifest', { headers: { origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
  });

  it('answers 404 problem+json for an unknown model', async () => {
    const res = await call('/v1/models/nope/manifest');
    expect(res.status).toBe(404);
    expect((await problemOf(res)).type).toBe(problemType('unknown-model'));
  });

  it('answers 404 problem+json for an unknown route', async () => {
    const res = await call('/v2/whatever');
    expect(res.status).toBe(404);
    expect((await problemOf(res)).type).toBe(problemType('not-found'));
  });
});

describe('POST /v1/models/:id/infer', () => {
  it('runs the tail on onnxruntime-web in workerd and matches the unsplit model (fp32)', async () => {
    const res = await postFrame('/v1/models/vit-mnist/infer', encodeFrame(activation, { encoding: 'fp32' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(FRAME_CONTENT_TYPE);
    const { header, data } = decodeFrame(new Uint8Array(await res.arrayBuffer()));
    expect(header.shape).toEqual(samples.logitsShape);
    let maxDiff = 0;
    for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i] - expectedLogits[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('accepts int8 per-token frames and keeps the predictions', async () => {
    const res = await postFrame('/v1/models/vit-mnist/infer', encodeFrame(activation, { encoding: 'int8' }));
    expect(res.status).toBe(200);
    const { data } = decodeFrame(new Uint8Array(await res.arrayBuffer()));
    expect(Array.from(argmaxRows(data, data.length / rows))).toEqual(
      Array.from(argmaxRows(expectedLogits, expectedLogits.length / rows)),
    );
  });

  it('answers JSON top-k when asked', async () => {
    const res = await postFrame(
      '/v1/models/vit-mnist/infer?k=3',
      encodeFrame(activation, { encoding: 'fp16' }),
      {
        accept: 'application/json',
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      predictions: Array<Array<{ index: number; score: number; label?: string }>>;
    };
    expect(body.predictions).toHaveLength(rows);
    const expected = argmaxRows(expectedLogits, expectedLogits.length / rows);
    body.predictions.forEach((top, r) => {
      expect(top).toHaveLength(3);
      expect(top[0].index).toBe(expected[r]);
      expect(top[0].score).toBeGreaterThanOrEqual(top[1].score);
    });
  });

  describe('rejects bad input with 4xx problem+json, never 5xx', () => {
    const url = '/v1/models/vit-mnist/infer';
    const valid = () => encodeFrame(activation, { encoding: 'int8' });

    it('400 malformed-frame: garbage bytes', async () => {
      const res = await postFrame(url, new TextEncoder().encode('definitely not a frame'));
      expect(res.status).toBe(400);
      const p = await problemOf(res);
      expect(p.type).toBe(problemType('malformed-frame'));
    });

    it('400 malformed-frame: a flipped payload byte fails the CRC', async () => {
      const bytes = valid();
      bytes[bytes.length - 10] ^= 0xff;
      const res = await postFrame(url, bytes);
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('bad-crc');
    });

    it('400 malformed-frame: truncated frame', async () => {
      const res = await postFrame(url, valid().subarray(0, 40));
      expect(res.status).toBe(400);
      expect((await problemOf(res)).type).toBe(problemType('malformed-frame'));
    });

    it('404 unknown-model before the body is looked at', async () => {
      const res = await postFrame('/v1/models/missing/infer', valid());
      expect(res.status).toBe(404);
    });

    it('413 payload-too-large past the body limit', async () => {
      const res = await postFrame(url, new Uint8Array(33 * 1024 * 1024));
      expect(res.status).toBe(413);
      expect((await problemOf(res)).type).toBe(problemType('payload-too-large'));
    });

    it('415 unsupported-media-type for a JSON body', async () => {
      const res = await call(url, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(415);
      expect((await problemOf(res)).type).toBe(problemType('unsupported-media-type'));
    });

    it('422 shape-not-allowed: wrong token count', async () => {
      const [b, t, d] = samples.activationShape;
      const bad = encodeFrame(
        { shape: [b, t + 1, d], data: new Float32Array(b * (t + 1) * d) },
        { encoding: 'int8' },
      );
      const res = await postFrame(url, bad);
      expect(res.status).toBe(422);
      expect((await problemOf(res)).type).toBe(problemType('shape-not-allowed'));
    });

    it('422 shape-not-allowed: wrong rank', async () => {
      const bad = encodeFrame({ shape: [4, 4], data: new Float32Array(16) }, { encoding: 'fp32' });
      const res = await postFrame(url, bad);
      expect(res.status).toBe(422);
    });

    it('422 shape-not-allowed: batch over the manifest limit', async () => {
      const [, t, d] = samples.activationShape;
      const big = encodeFrame(
        { shape: [257, t, d], data: new Float32Array(257 * t * d) },
        { encoding: 'int2' },
      );
      const res = await postFrame(url, big);
      expect(res.status).toBe(422);
    });

    it('422 encoding-not-allowed where the manifest restricts encodings', async () => {
      const manifest = Manifest.parse(await (await call('/v1/models/vit-mnist-deep/manifest')).json());
      expect(manifest.wire.encodings).not.toContain('fp32');
      const [b, , d] = samples.activationShape;
      const shape = [b, manifest.cut.tensor.shape[1] as number, d];
      const frame = encodeFrame(
        { shape, data: new Float32Array(shape[0] * shape[1] * shape[2]) },
        { encoding: 'fp32' },
      );
      const res = await postFrame('/v1/models/vit-mnist-deep/infer', frame);
      expect(res.status).toBe(422);
      expect((await problemOf(res)).type).toBe(problemType('encoding-not-allowed'));
    });

    it('406 not-acceptable for an Accept the API cannot produce', async () => {
      const res = await postFrame(url, valid(), { accept: 'text/html' });
      expect(res.status).toBe(406);
    });

    it('400 bad-request for a bad k', async () => {
      const res = await postFrame(`${url}?k=0`, valid(), { accept: 'application/json' });
      expect(res.status).toBe(400);
    });

    it('random bodies never produce a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (body) => {
          const res = await postFrame(url, body);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          await problemOf(res);
        }),
        { numRuns: 60, seed: 7 },
      );
    });

    it('mutated valid frames never produce a 5xx', async () => {
      const base = valid();
      await fc.assert(
        fc.asyncProperty(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
          const bytes = base.slice();
          bytes[at] ^= xor;
          const res = await postFrame(url, bytes);
          expect(res.status).toBeLessThan(500);
        }),
        { numRuns: 60, seed: 11 },
      );
    });
  });
});
