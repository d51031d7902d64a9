// Who may run inference: a model whose access requires an API key answers 401
// without one; any request presenting a key is checked and counted against
// the key's rate in the key's own object (durable-objects/api-keys/), whether
// or not its model requires one. Presented credentials are never ignored: a
// malformed, unknown or revoked key is a 401 even on a public model.
import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';
import { apiKeyId, hashApiKey, presentedApiKey } from './api-keys.js';
import { challenge } from './middleware.js';
import { modelAccess } from './model-access.js';

export const apiKeyObject = (env: Env, keyId: string) => env.API_KEYS.get(env.API_KEYS.idFromName(keyId));

export const inferenceAccess: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const key = presentedApiKey(c.req);
  if (key === undefined) {
    const { requireApiKey } = await modelAccess(c.env.MODELS, c.req.param('id') ?? '');
    if (requireApiKey) {
      throw new HttpProblem(
        'unauthorized',
        'This model requires an API key (x-api-key or Authorization: Bearer).',
        { reason: 'api-key-required' },
        challenge,
      );
    }
    return next();
  }
  const keyId = apiKeyId(key);
  if (!keyId) {
    throw new HttpProblem(
      'unauthorized',
      'The API key is malformed.',
      { reason: 'malformed-key' },
      challenge,
    );
  }
  const use = unwrap(await apiKeyObject(c.env, keyId).consume(await hashApiKey(key)));
  c.header('x-ratelimit-limit', String(use.limit));
  c.header('x-ratelimit-remaining', String(use.remaining));
  await next();
};
