// Uploading artifacts into the registry (admin), addressed by sha256. A body
// is capped per request, so large artifacts go up in parts (R2 multipart):
//
//   HEAD /v1/artifacts/:sha256                                  present? (GET: the bytes)
//   PUT  /v1/artifacts/:sha256                                  one body
//   POST /v1/artifacts/:sha256/uploads                          → { uploadId }
//   PUT  /v1/artifacts/:sha256/uploads/:uploadId/:part          → { part, etag }
//   POST /v1/artifacts/:sha256/uploads/:uploadId/complete       { parts: [{ part, etag }] }
//
// Whatever lands under a digest is that digest's bytes: R2 checks a single
// put against it, and a completed multipart object is hashed before it is
// kept.
import { Hono } from 'hono';
import { artifactKey } from '../../edge/artifacts.js';
import { CompleteUploadBody } from '../../protocol/api.js';
import { type AuthEnv, requireAdmin } from '../auth/middleware.js';
import { jsonBody } from '../http/json-body.js';
import { HttpProblem } from '../http/problem.js';

/** Under the 100 MB request-body limit of Workers, with room for headers. */
export const MAX_PART_BYTES = 95 * 1024 * 1024;
/** R2 parts other than the last must be at least 5 MiB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export const artifactRoutes = new Hono<AuthEnv>();
artifactRoutes.use('*', requireAdmin);

function digestOf(raw: string | undefined): string {
  if (!raw || !/^[0-9a-f]{64}$/.test(raw)) {
    throw new HttpProblem(
      'bad-request',
      'The path must name an artifact by its sha256, 64 lower-case hex digits.',
    );
  }
  return raw;
}

function bodyLength(header: string | undefined): number {
  const n = Number(header);
  if (header === undefined || !/^\d+$/.test(header) || !Number.isSafeInteger(n)) {
    throw new HttpProblem('bad-request', 'A Content-Length header is required.');
  }
  if (n > MAX_PART_BYTES) {
    throw new HttpProblem(
      'payload-too-large',
      `One request carries at most ${MAX_PART_BYTES} bytes; upload in parts.`,
      {
        limit: MAX_PART_BYTES,
      },
    );
  }
  return n;
}

async function sha256OfObject(bucket: R2Bucket, key: string): Promise<string | null> {
  const object = await bucket.get(key);
  if (!object) return null;
  const digest = new crypto.DigestStream('SHA-256');
  await object.body.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Hono answers HEAD with this GET handler, minus the body.
artifactRoutes.get('/:sha256', async (c) => {
  const key = artifactKey(digestOf(c.req.param('sha256')));
  const headers = (size: number) => ({
    'content-type': 'application/octet-stream',
    'content-length': String(size),
  });
  if (c.req.method === 'HEAD') {
    const head = await c.env.MODELS.head(key);
    if (!head) throw new HttpProblem('not-found', 'No such artifact in the registry.');
    return c.body(null, 200, headers(head.size));
  }
  const object = await c.env.MODELS.get(key);
  if (!object) throw new HttpProblem('not-found', 'No such artifact in the registry.');
  return c.body(object.body, 200, headers(object.size));
});

artifactRoutes.put('/:sha256', async (c) => {
  const sha256 = digestOf(c.req.param('sha256'));
  const length = bodyLength(c.req.header('content-length'));
  const body = c.req.raw.body;
  if (!body) throw new HttpProblem('bad-request', 'The request has no body.');
  const stream = body.pipeThrough(new FixedLengthStream(length));
  try {
    await c.env.MODELS.put(artifactKey(sha256), stream, { sha256 });
  } catch (err) {
    // R2 refuses a body whose digest differs from the one given.
    throw new HttpProblem(
      'artifact-mismatch',
      `The body is not the artifact ${sha256}: ${(err as Error).message}`,
    );
  }
  return c.json({ sha256, bytes: length }, 201);
});

artifactRoutes.post('/:sha256/uploads', async (c) => {
  const sha256 = digestOf(c.req.param('sha256'));
  const upload = await c.env.MODELS.createMultipartUpload(artifactKey(sha256));
  return c.json({ sha256, uploadId: upload.uploadId }, 201);
});

artifactRoutes.put('/:sha256/uploads/:uploadId/:part', async (c) => {
  const sha256 = digestOf(c.req.param('sha256'));
  const part = Number(c.req.param('part'));
  if (!Number.isInteger(part) || part < 1 || part > 10_000) {
    throw new HttpProblem('bad-request', 'Parts are numbered 1 to 10000.');
  }
  const length = bodyLength(c.req.header('content-length'));
  const body = c.req.raw.body;
  if (!body) throw new HttpProblem('bad-request', 'The request has no body.');
  const upload = c.env.MODELS.resumeMultipartUpload(artifactKey(sha256), c.req.param('uploadId'));
  try {
    const uploaded = await upload.uploadPart(part, body.pipeThrough(new FixedLengthStream(length)));
    return c.json({ part: uploaded.partNumber, etag: uploaded.etag });
  } catch (err) {
    throw new HttpProblem('not-found', `No such upload, or it has ended: ${(err as Error).message}`);
  }
});

artifactRoutes.post('/:sha256/uploads/:uploadId/complete', async (c) => {
  const sha256 = digestOf(c.req.param('sha256'));
  const { parts } = await jsonBody(c, CompleteUploadBody);
  const key = artifactKey(sha256);
  const upload = c.env.MODELS.resumeMultipartUpload(key, c.req.param('uploadId'));
  try {
    await upload.complete(parts.map((p) => ({ partNumber: p.part, etag: p.etag })));
  } catch (err) {
    throw new HttpProblem('bad-request', `The upload cannot be completed: ${(err as Error).message}`);
  }
  const actual = await sha256OfObject(c.env.MODELS, key);
  if (actual !== sha256) {
    await c.env.MODELS.delete(key);
    throw new HttpProblem(
      'artifact-mismatch',
      `The parts add up to sha256 ${actual}, not ${sha256}; nothing was kept.`,
    );
  }
  const head = await c.env.MODELS.head(key);
  return c.json({ sha256, bytes: head?.size ?? 0 }, 201);
});
