// Inference API keys inside workerd: a model that requires a key, keys
// created, counted, rate-limited and revoked through the admin API, each in
// its own Durable Object. Uses its own copy of vit-mnist, so the access it
// sets never reaches the other test files sharing the registry.
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-mnist/samples.json';
import { encodeFrame } from '../../../protocol/frame.js';
import { type ProblemSlug, problemType } from '../../../protocol/problem.js';
import { call, postFrame, problemOf } from '../helpers.js';
import { seededModel } from '../seeded.js';
import { CONFIG } from './single-device.js';

const ADMIN = { authorization: 'Bearer splitflare-dev-admin-key' };
const base = seededModel('vit-mnist');
const frame = encodeFrame(
  { shape: samples.activationShape, data: Float32Array.from(samples.activation) },
  { encoding: 'int8' },
);
const statuses: number[] = [];

async function track(res: Promise<Response>): Promise<Response> {
  const r = await res;
  statuses.push(r.status);
  return r;
}

const infer = (id: string, headers: Record<string, string> = {}) =>
  track(postFrame(`/v1/models/${id}/infer`, frame, { accept: 'application/json', ...headers }));

const admin = (path: string, method: string, body?: unknown, headers: Record<string, string> = ADMIN) =>
  track(
    call(path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }),
  );

interface Created {
  keyId: string;
  key: string;
  name: string;
  ratePerMinute: number;
  burst: number;
}

async function createKey(body: Record<string, unknown>): Promise<Created> {
  const res = await admin('/v1/api-keys', 'POST', body);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Created;
}

async function expectProblem(res: Response, status: number, slug: ProblemSlug, reason?: string) {
  const body = await problemOf(res);
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.type).toBe(problemType(slug));
  if (reason !== undefined) expect(body.reason).toBe(reason);
  return body;
}

let copies = 0;
async function publishCopy(): Promise<string> {
  const id = `keyed-${Date.now().toString(36)}-${++copies}`;
  const res = await admin(`/v1/models/${id}`, 'PUT', { ...base.manifest, modelId: id });
  expect(res.status, await res.clone().text()).toBe(201);
  return id;
}

describe('model access', () => {
  it('is public until set; only the admin sets it, for a known model, with a valid body', async () => {
    const id = await publishCopy();
    expect(await (await admin(`/v1/models/${id}/access`, 'GET')).json()).toEqual({
      requireApiKey: false,
      privateHead: false,
    });
    expect((await infer(id)).status).toBe(200);
    await expectProblem(
      await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: true }, {}),
      401,
      'unauthorized',
    );
    await expectProblem(
      await admin(
        `/v1/models/${id}/access`,
        'PUT',
        { requireApiKey: true },
        { authorization: 'Bearer nope' },
      ),
      403,
      'forbidden',
    );
    await expectProblem(
      await admin('/v1/models/nope/access', 'PUT', { requireApiKey: true }),
      404,
      'unknown-model',
    );
    await expectProblem(
      await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: 'yes' }),
      400,
      'bad-request',
    );
    const set = await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: true });
    expect(set.status).toBe(200);
    expect(await (await admin(`/v1/models/${id}/access`, 'GET')).json()).toEqual({
      requireApiKey: true,
      privateHead: false,
    });

    const refused = await infer(id);
    await expectProblem(refused, 401, 'unauthorized', 'api-key-required');
    expect(refused.headers.get('www-authenticate')).toContain('Bearer');
    // The head and manifest stay public: a device needs them before it has anything to infer.
    expect((await track(call(`/v1/models/${id}/manifest`))).status).toBe(200);
    expect((await track(call(`/v1/models/${id}/head`))).status).toBe(200);
  });
});

describe('a private head', () => {
  it('serves the device artifacts only with a valid device token or API key, never to shared caches', async () => {
    const id = await publishCopy();
    expect(
      (await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: false, privateHead: true })).status,
    ).toBe(200);
    const head = (headers: Record<string, string> = {}) => track(call(`/v1/models/${id}/head`, { headers }));
    await expectProblem(await head(), 401, 'unauthorized', 'credential-required');
    await expectProblem(
      await head({ authorization: 'Bearer not-a-token' }),
      401,
      'unauthorized',
      'malformed',
    );
    await expectProblem(
      await head({ 'x-api-key': `sfk_${'0'.repeat(16)}_${'0'.repeat(64)}` }),
      401,
      'unauthorized',
    );
    // The manifest stays public: a device needs it to know what to ask for.
    expect((await track(call(`/v1/models/${id}/manifest`))).status).toBe(200);

    const { key } = await createKey({ name: 'head reader' });
    const byKey = await head({ 'x-api-key': key });
    expect(byKey.status).toBe(200);
    expect(byKey.headers.get('cache-control')).toMatch(/^private/);
    expect(new Uint8Array(await byKey.arrayBuffer()).byteLength).toBe(base.manifest.artifacts.head.bytes);

    // A device token of any federation reads it too.
    const fid = `head-${Date.now().toString(36)}`;
    expect((await admin('/v1/federations', 'POST', { id: fid, config: CONFIG })).status).toBe(201);
    const { token } = (await (
      await admin(`/v1/federations/${fid}/devices`, 'POST', { deviceId: 'd' })
    ).json()) as {
      token: string;
    };
    expect((await head({ authorization: `Bearer ${token}` })).status).toBe(200);

    // Public again: public caching again.
    await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: false, privateHead: false });
    const open = await head();
    expect(open.status).toBe(200);
    expect(open.headers.get('cache-control')).toMatch(/^public/);
  });
});

describe('API keys', () => {
  it('admit a keyed model, count every request and answer 429 with Retry-After past the rate', async () => {
    const id = await publishCopy();
    await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: true });
    const created = await createKey({ name: 'field app', ratePerMinute: 3 });
    expect(created).toMatchObject({ name: 'field app', ratePerMinute: 3, burst: 3 });
    expect(created.key).toMatch(new RegExp(`^sfk_${created.keyId}_[0-9a-f]{64}$`));

    const first = await infer(id, { 'x-api-key': created.key });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('3');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(((await first.json()) as { predictions: unknown[] }).predictions).toHaveLength(
      samples.activationShape[0],
    );
    expect((await infer(id, { authorization: `Bearer ${created.key}` })).status).toBe(200);
    expect((await infer(id, { 'x-api-key': created.key })).status).toBe(200);
    const limited = await infer(id, { 'x-api-key': created.key });
    const problem = await expectProblem(limited, 429, 'too-many-requests');
    expect(problem.limit).toBe(3);
    // One request's worth at 3 a minute: about 20 s.
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);

    const info = await admin(`/v1/api-keys/${created.keyId}`, 'GET');
    const described = (await info.json()) as Record<string, unknown>;
    expect(described).toMatchObject({ keyId: created.keyId, requests: 4, limited: 1, revokedAt: null });
    expect(described).not.toHaveProperty('key');
    expect(described).not.toHaveProperty('hash');
    const list = (await (await admin('/v1/api-keys', 'GET')).json()) as { keys: Array<{ keyId: string }> };
    expect(list.keys.map((k) => k.keyId)).toContain(created.keyId);
    expect(JSON.stringify(list)).not.toContain(created.key);
  });

  it('refuse a malformed, unknown or wrong key, and a revoked one, even on a public model', async () => {
    const id = await publishCopy();
    await admin(`/v1/models/${id}/access`, 'PUT', { requireApiKey: true });
    const created = await createKey({ ratePerMinute: 100 });
    await expectProblem(await infer(id, { 'x-api-key': 'not-a-key' }), 401, 'unauthorized', 'malformed-key');
    await expectProblem(
      await infer(id, { authorization: 'Bearer sf2.a.b' }),
      401,
      'unauthorized',
      'malformed-key',
    );
    const unknown = `sfk_${'0'.repeat(16)}_${'1'.repeat(64)}`;
    await expectProblem(await infer(id, { 'x-api-key': unknown }), 401, 'unauthorized', 'unknown-key');
    const wrongSecret = `sfk_${created.keyId}_${'2'.repeat(64)}`;
    await expectProblem(await infer(id, { 'x-api-key': wrongSecret }), 401, 'unauthorized', 'unknown-key');
    expect((await infer(id, { 'x-api-key': created.key })).status).toBe(200);

    const revoked = await admin(`/v1/api-keys/${created.keyId}/revoke`, 'POST');
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: number }).revokedAt).toBeGreaterThan(0);
    await expectProblem(await infer(id, { 'x-api-key': created.key }), 401, 'unauthorized', 'revoked-key');
    await expectProblem(
      await infer('vit-mnist', { 'x-api-key': created.key }),
      401,
      'unauthorized',
      'revoked-key',
    );
    await expectProblem(await admin(`/v1/api-keys/${'f'.repeat(16)}/revoke`, 'POST'), 404, 'not-found');
    await expectProblem(await admin('/v1/api-keys/bogus', 'GET'), 404, 'not-found');
  });

  it('count requests on a public model too, per key', async () => {
    const one = await createKey({ ratePerMinute: 1 });
    const other = await createKey({ ratePerMinute: 1 });
    expect((await infer('vit-mnist', { 'x-api-key': one.key })).status).toBe(200);
    await expectProblem(await infer('vit-mnist', { 'x-api-key': one.key }), 429, 'too-many-requests');
    // Another key has its own bucket, and no key at all is still welcome on a public model.
    expect((await infer('vit-mnist', { 'x-api-key': other.key })).status).toBe(200);
    expect((await infer('vit-mnist')).status).toBe(200);
  });

  it('are managed by the admin only, with a valid body', async () => {
    await expectProblem(await admin('/v1/api-keys', 'POST', {}, {}), 401, 'unauthorized');
    await expectProblem(
      await admin('/v1/api-keys', 'GET', undefined, { authorization: 'Bearer nope' }),
      403,
      'forbidden',
    );
    await expectProblem(await admin('/v1/api-keys', 'POST', { ratePerMinute: 0 }), 400, 'bad-request');
    await expectProblem(await admin('/v1/api-keys', 'POST', { ratePerMinute: 1.5 }), 400, 'bad-request');
    // The Worker's default rate (API_KEY_RATE_PER_MINUTE in wrangler.toml).
    expect(await createKey({})).toMatchObject({ ratePerMinute: 600, burst: 600, name: '' });
  });

  it('never answered a server error', () => {
    expect(statuses.length).toBeGreaterThan(30);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
