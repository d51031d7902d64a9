// Who may download a model's device-side artifacts (the head, its training
// graphs, a version's head trainables). Public by default; with the model's
// access `privateHead`, only a device holding a valid token (of any
// federation: the artifacts are the model's, not a federation's) or a valid
// API key (checked and counted as for inference). The head is what an
// attacker needs to invert an affine uplink without probing a device.
import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from '../http/problem.js';
import { apiKeyId } from './api-keys.js';
import { inferenceAccess } from './inference.js';
import { keyringOf } from './keys.js';
import { bearer, challenge } from './middleware.js';
import { modelAccess } from './model-access.js';
import { verifyDeviceToken } from './tokens.js';

/** Whether the model in the path serves its device artifacts only to devices and key holders. */
export const isPrivateHead = async (env: Env, modelId: string): Promise<boolean> =>
  (await modelAccess(env.MODELS, modelId)).privateHead;

export const artifactAccess: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  if (!(await isPrivateHead(c.env, c.req.param('id') ?? ''))) return next();
  const direct = c.req.header('x-api-key')?.trim();
  const token = direct || bearer(c.req.header('authorization'));
  if (!token) {
    throw new HttpProblem(
      'unauthorized',
      "This model's device artifacts need a device token or an API key.",
      { reason: 'credential-required' },
      challenge,
    );
  }
  if (direct || apiKeyId(token)) return inferenceAccess(c, next);
  const checked = await verifyDeviceToken(keyringOf(c.env), token, Date.now());
  if (!checked.ok)
    throw new HttpProblem('unauthorized', checked.detail, { reason: checked.reason }, challenge);
  await next();
};
