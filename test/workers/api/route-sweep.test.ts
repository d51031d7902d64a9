// Every route of the app, whatever a hostile client sends: no credentials, a
// forged or foreign token, a valid admin key or device token with garbage
// bodies (random bytes, broken or deeply nested JSON, JSON with huge finite
// numbers, wrong types), and hostile path parameters. The answer is never a
// 5xx, and every refusal is problem+json with a stable type. The routes come
// from the app itself, so a route added later is swept without editing this
// file, and the test fails if any route was never reached.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Enrollment } from '../../../protocol/federation.js';
import { PROBLEM_TYPES } from '../../../protocol/problem.js';
import { createApp } from '../../../workers/app.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, CONFIG } from './single-device.js';

const FID = 'sweep';

interface Route {
  method: string;
  path: string;
}

/** The app's handlers (middleware registrations are method ALL), each once. */
function appRoutes(): Route[] {
  const seen = new Map<string, Route>();
  for (const r of createApp().routes) {
    if (r.method === 'ALL' || r.path.endsWith('*')) continue;
    seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  }
  return [...seen.values()];
}

/** Values a path parameter takes: the real ones (so handlers run past their lookups) and hostile ones. */
function paramValues(name: string, real: Record<string, string>): fc.Arbitrary<string> {
  const hostile = fc.constantFrom(
    '0',
    '-1',
    '1e308',
    '9'.repeat(40),
    'x'.repeat(300),
    '..%2F..%2Fetc',
    '%00',
    'a%20b',
    '%F0%9F%92%A3',
    'NaN',
    '0x10',
    ' 1',
    'latest',
    `${FID}@-1`,
    `${FID}@99999999999`,
    `${FID}@latest`,
    'f'.repeat(64),
  );
  const r = real[name];
  return r === undefined
    ? hostile
    : fc.oneof({ weight: 2, arbitrary: fc.constant(r) }, { weight: 3, arbitrary: hostile });
}

const hugeNumbers = fc.constantFrom(1e308, -1e308, 3.4e38, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, -0, 5e-324);

/** JSON values that try every branch of a schema: right keys, wrong types, huge numbers. */
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hugeNumbers,
    fc.integer(),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom(
        'deviceId',
        'id',
        'config',
        'version',
        'name',
        'samples',
        'accuracy',
        'meanLoss',
        'requireApiKey',
        'ratePerMinute',
        'burst',
        '__proto__',
        'constructor',
      ),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ bytes: b, type: 'application/octet-stream' })),
  hostileJson.map((v) => ({
    bytes: new TextEncoder().encode(JSON.stringify(v) ?? 'null'),
    type: 'application/json',
  })),
  fc
    .constantFrom(
      '{',
      '{"a":',
      '[[[[[[[[[[',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '{"id":"x","config":1e999}',
    )
    .map((s) => ({ bytes: new TextEncoder().encode(s), type: 'application/json' })),
  fc.constant({ bytes: new TextEncoder().encode('{"id":"a"}'), type: 'text/plain' }),
);

describe('every route, hostile input', () => {
  const routes = appRoutes();
  const reached = new Set<string>();
  const real: Record<string, string> = {
    fid: FID,
    id: 'vit-fashion',
    deviceId: 'dev-a',
    version: '0',
    round: '0',
    seq: '0',
    artifact: 'headForward',
  };
  const credentials: Record<string, Record<string, string>> = {
    none: {},
    forged: { authorization: 'Bearer sfd1.eyJ9.AAAA' },
    admin: ADMIN,
    apiKey: { 'x-api-key': `sk_${'a'.repeat(40)}` },
  };

  beforeAll(async () => {
    expect(
      (
        await call('/v1/federations', {
          method: 'POST',
          headers: { ...ADMIN, 'content-type': 'application/json' },
          body: JSON.stringify({ id: FID, config: CONFIG }),
        })
      ).status,
    ).toBe(201);
    const enrolled = await call(`/v1/federations/${FID}/devices`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'dev-a' }),
    });
    const { token } = (await enrolled.json()) as Enrollment;
    credentials.device = { authorization: `Bearer ${token}` };
    expect((await call(`/v1/federations/${FID}/start`, { method: 'POST', headers: ADMIN })).status).toBe(200);
    // A real artifact digest, so the artifact routes get past their lookups too.
    const manifest = (await (await call('/v1/models/vit-fashion/manifest')).json()) as {
      artifacts: { head: { sha256: string } };
    };
    real.sha256 = manifest.artifacts.head.sha256;
  });

  it('sweeps the routes the app has', () => {
    expect(routes.length).toBeGreaterThan(30);
  });

  it('never answers 5xx; every refusal is problem+json with a known type', async () => {
    const slugs = new Set(Object.keys(PROBLEM_TYPES));
    const request = fc.record({
      route: fc.constantFrom(...routes),
      who: fc.constantFrom(...Object.keys(credentials)),
      body,
      seed: fc.integer(),
    });
    const one = async ({
      route,
      who,
      body: b,
      seed,
    }: {
      route: Route;
      who: string;
      body: unknown;
      seed: number;
    }) => {
      const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
      const values =
        fc.sample(fc.tuple(...names.map((n) => paramValues(n, real))), { seed, numRuns: 1 })[0] ?? [];
      let path = route.path;
      names.forEach((n, i) => {
        path = path.replace(new RegExp(`:${n}(\\{[^}]*\\})?`), values[i] as string);
      });
      const payload = b as { bytes: Uint8Array; type: string } | undefined;
      const res = await call(path, {
        method: route.method,
        headers: { ...credentials[who], ...(payload ? { 'content-type': payload.type } : {}) },
        body: route.method === 'GET' || route.method === 'HEAD' || !payload ? undefined : payload.bytes,
      });
      reached.add(`${route.method} ${route.path}`);
      expect(res.status, `${route.method} ${path} as ${who}`).toBeLessThan(500);
      if (res.status >= 400) {
        const problem = await problemOf(res);
        expect(problem.status).toBe(res.status);
        expect(slugs.has(problem.type.replace('urn:splitflare:problem:', '')), problem.type).toBe(true);
      } else {
        await res.arrayBuffer();
      }
    };
    await fc.assert(fc.asyncProperty(request, one), { numRuns: 600, seed: 20261202 });
    // Then each route once more with every credential, so none is left unswept by chance.
    for (const route of routes) {
      for (const who of Object.keys(credentials)) {
        await one({
          route,
          who,
          body: { bytes: new TextEncoder().encode('{}'), type: 'application/json' },
          seed: 7,
        });
      }
    }
    expect([...routes.map((r) => `${r.method} ${r.path}`)].filter((r) => !reached.has(r))).toEqual([]);
  });
});
