// The device's side of a securely aggregated round (protocol/secagg/): its
// view of the protocol, and the keys, shares and reveals it posts. The
// masked update itself goes to …/secagg/masked beside the plain submit
// (federations.ts). Every message is small JSON, checked here and again by
// the coordinator.
import { type Context, Hono } from 'hono';
import type { z } from 'zod';
import { MemberKeys, SharesBody, UnmaskBody } from '../../protocol/secagg/wire.js';
import { type AuthEnv, requireDevice } from '../auth/middleware.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { unwrap } from '../http/rpc.js';
import { coordinator, nonNegativeInt } from './federation-refs.js';

export const secureAggregationRoutes = new Hono<AuthEnv>();

const target = (c: Context<AuthEnv>) => {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const round = nonNegativeInt(c.req.param('round') ?? '', 'round');
  return { coord: coordinator(c.env, fid), deviceId, generation, round };
};

secureAggregationRoutes.get('/:fid/rounds/:round/secagg', requireDevice, async (c) => {
  const { coord, deviceId, generation, round } = target(c);
  return c.json(unwrap(await coord.secAggStatus(deviceId, generation, round)));
});

const post = <S extends z.ZodTypeAny>(
  path: string,
  schema: S,
  maxBytes: number,
  send: (
    t: ReturnType<typeof target>,
    body: z.infer<S>,
  ) => ReturnType<ReturnType<typeof target>['coord']['secAggStatus']>,
) =>
  secureAggregationRoutes.post(path, requireDevice, limitBody(maxBytes), async (c) => {
    const body = await jsonBody(c, schema);
    return c.json(unwrap(await send(target(c), body)));
  });

post('/:fid/rounds/:round/secagg/keys', MemberKeys, 1024, (t, keys) =>
  t.coord.secAggKeys(t.deviceId, t.generation, t.round, keys),
);
// 1,000 clients a round at most: a sealed share and its member's id each.
post('/:fid/rounds/:round/secagg/shares', SharesBody, 256 * 1024, (t, body) =>
  t.coord.secAggShares(t.deviceId, t.generation, t.round, body),
);
post('/:fid/rounds/:round/secagg/unmask', UnmaskBody, 256 * 1024, (t, body) =>
  t.coord.secAggReveal(t.deviceId, t.generation, t.round, body),
);
