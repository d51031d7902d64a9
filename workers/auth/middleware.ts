import type { Context, MiddlewareHandler } from 'hono';
import { BEARER_PROTOCOL_PREFIX, offeredProtocols } from '../../protocol/events.js';
import { HttpProblem } from '../http/problem.js';
import { keyringOf } from './keys.js';
import { type DeviceClaims, sameSecret, verifyDeviceToken } from './tokens.js';

export type AuthEnv = { Bindings: Env; Variables: { device: DeviceClaims } };

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

export const challenge = { 'www-authenticate': 'Bearer realm="splitflare"' };

/**
 * A WebSocket's bearer: browsers cannot set Authorization on a WebSocket, so
 * the key may ride in the subprotocol `bearer.<key>` (protocol/events.ts).
 */
function socketBearer(c: Context<AuthEnv>): string | undefined {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return undefined;
  const offered = offeredProtocols(c.req.header('sec-websocket-protocol'));
  return offered.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))?.slice(BEARER_PROTOCOL_PREFIX.length);
}

/** The operator: Authorization: Bearer <ADMIN_KEY> (a wrangler secret; .dev.vars locally). */
export const requireAdmin: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization')) ?? socketBearer(c);
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
