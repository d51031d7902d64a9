import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from '../http/problem.js';
import { type DeviceClaims, sameSecret, verifyDeviceToken } from './tokens.js';

export type AuthEnv = { Bindings: Env; Variables: { device: DeviceClaims } };

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

const challenge = { 'www-authenticate': 'Bearer realm="splitflare"' };

/** The operator: Authorization: Bearer <ADMIN_KEY> (a wrangler secret; .dev.vars locally). */
export const requireAdmin: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization'));
  if (!token) throw new HttpProblem('unauthorized', 'An admin bearer token is required.', {}, challenge);
  if (!c.env.ADMIN_KEY || !sameSecret(token, c.env.ADMIN_KEY)) {
    throw new HttpProblem('forbidden', 'The admin key is not valid.');
  }
  await next();
};

/** A device of the federation in the path: Authorization: Bearer <token issued at enrollment>. */
export const requireDevice: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization'));
  if (!token) throw new HttpProblem('unauthorized', 'A device bearer token is required.', {}, challenge);
  const claims = await verifyDeviceToken(c.env.TOKEN_SECRET, token);
  if (!claims) throw new HttpProblem('unauthorized', 'The device token is not valid.', {}, challenge);
  const federationId = c.req.param('fid');
  if (claims.federationId !== federationId) {
    throw new HttpProblem('forbidden', 'This token belongs to another federation.');
  }
  c.set('device', claims);
  await next();
};
