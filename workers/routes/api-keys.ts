// Inference API keys (admin): create (the key is in this answer only), list,
// describe with usage, revoke. The key objects are the authority; R2 holds
// an index of key ids under `api-keys/` so they can be listed.
import { Hono } from 'hono';
import { KEY_ID_PATTERN } from '../../durable-objects/api-keys/api-key.js';
import type { KeyInfo } from '../../durable-objects/api-keys/index.js';
import { CreateApiKeyBody, RatePerMinute } from '../../protocol/api.js';
import { hashApiKey, newApiKey } from '../auth/api-keys.js';
import { apiKeyObject } from '../auth/inference.js';
import { type AuthEnv, requireAdmin } from '../auth/middleware.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';

const INDEX_PREFIX = 'api-keys/';
const PAGE = 100;
/** Requests a minute a key may make unless its creator says otherwise (API_KEY_RATE_PER_MINUTE). */
export const DEFAULT_RATE_PER_MINUTE = 600;

const Rate = RatePerMinute;

function defaultRate(env: Env): number {
  const n = Number(env.API_KEY_RATE_PER_MINUTE);
  return Rate.safeParse(n).success ? n : DEFAULT_RATE_PER_MINUTE;
}

function keyIdOf(raw: string): string {
  if (!KEY_ID_PATTERN.test(raw)) throw new HttpProblem('not-found', `No API key with id "${raw}".`);
  return raw;
}

export const apiKeyRoutes = new Hono<AuthEnv>();
apiKeyRoutes.use('*', requireAdmin);

apiKeyRoutes.post('/', limitBody(4 * 1024), async (c) => {
  const body = await jsonBody(c, CreateApiKeyBody);
  const ratePerMinute = body.ratePerMinute ?? defaultRate(c.env);
  const { keyId, key } = newApiKey();
  const created = unwrap(
    await apiKeyObject(c.env, keyId).create({
      keyId,
      hash: await hashApiKey(key),
      name: body.name,
      ratePerMinute,
      burst: body.burst ?? ratePerMinute,
    }),
  );
  // Indexed after the object exists: a failure here leaves a key nobody was shown, not a listed key that fails.
  await c.env.MODELS.put(`${INDEX_PREFIX}${keyId}`, '');
  return c.json({ ...created, key }, 201, { location: `/v1/api-keys/${keyId}` });
});

apiKeyRoutes.get('/', async (c) => {
  const page = await c.env.MODELS.list({ prefix: INDEX_PREFIX, limit: PAGE, cursor: c.req.query('cursor') });
  const ids = page.objects
    .map((o) => o.key.slice(INDEX_PREFIX.length))
    .filter((id) => KEY_ID_PATTERN.test(id));
  const described = await Promise.all(ids.map((id) => apiKeyObject(c.env, id).describe()));
  const keys: KeyInfo[] = described.flatMap((r) => (r.ok ? [r.value] : []));
  return c.json({ keys, ...(page.truncated ? { cursor: page.cursor } : {}) });
});

apiKeyRoutes.get('/:keyId', async (c) =>
  c.json(unwrap(await apiKeyObject(c.env, keyIdOf(c.req.param('keyId'))).describe())),
);

apiKeyRoutes.post('/:keyId/revoke', async (c) =>
  c.json(unwrap(await apiKeyObject(c.env, keyIdOf(c.req.param('keyId'))).revoke())),
);
