import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from '../http/problem.js';
import { keyringOf } from './keys.js';
import { type DeviceClaims, sameSecret, verifyDeviceToken } from './tokens.js';

export type AuthEnv = { Bindings: Env; Variables: { device: DeviceClaims } };

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

export const challenge = { 'www-authenticate': 'Bearer realm="splitflare"' };

/** The operator: Authorization: Bearer <ADMIN_KEY> (a wrangler secret; .dev.vars locally). */
export const requireAdmin: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization'));
  if (!token) throw new HttpProblem('unauthorized', 'An admin bearer token is required.', {}, challenge);
  if (!c.env.ADMIN_KEY || !sameSecret(token, c.env.ADMIN_KEY)) {
    throw new HttpProblem('forbidden', 'The admin key is not valid.');
  }
  await next();
};

/**
 * A device of the federation in the path: Authorization: Bearer <token issued
 * at enrollment>. Only the token itself is checked here; whether the device's
 * generation is still current is checked by the object each route reaches.
 */
export const requireDevice: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization'));
  if (!token) {
    throw new HttpProblem(
      'unauthorized',
      'A device bearer token is required.',
      { reason: 'missing' },
      challenge,
    );
  }
  const checked = await verifyDeviceToken(keyringOf(c.env), token, Date.now());
  if (!checked.ok)
    throw new HttpProblem('unauthorized', checked.detail, { reason: checked.reason }, challenge);
  if (checked.claims.federationId !== c.req.param('fid')) {
    throw new HttpProblem('forbidden', 'This token belongs to another federation.');
  }
  c.set('device', checked.claims);
  await next();
};
