// Logs an operator can read: one JSON line per request and per round
// transition, a request id echoed in the answer and in problems, and no
// secret (admin key, device token, session pass) in any line.
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { type JoinAnswer, SESSION_PASS_HEADER } from '../../../protocol/federation.js';
import { STEP_CONTENT_TYPE } from '../../../protocol/media.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, federation, round } from './single-device.js';

let spies: MockInstance[] = [];
const lines = () => spies.flatMap((s) => s.mock.calls.map((args) => args.map(String).join(' ')));
const events = () =>
  lines().flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

beforeEach(() => {
  spies = (['log', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m));
});
afterEach(() => {
  for (const s of spies) s.mockRestore();
});

describe('structured logs', () => {
  it('logs each request with the id its answer and problem carry', async () => {
    const res = await call('/v1/federations/nope-404', {
      headers: { ...ADMIN, 'x-request-id': 'trace-0001-abc' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('trace-0001-abc');
    expect((await problemOf(res)).requestId).toBe('trace-0001-abc');
    const line = events().find((e) => e.event === 'request' && e.requestId === 'trace-0001-abc');
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      path: '/v1/federations/nope-404',
      route: '/v1/federations/:fid',
      status: 404,
      problem: 'unknown-federation',
    });
    expect(typeof line?.ms).toBe('number');

    // An id a client made up badly is replaced, not echoed.
    const odd = await call('/v1/models', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs round transitions, and no line holds a key, token or pass', async () => {
    const { fid, device } = await federation({ rounds: 2 }, 'logs');
    await round(fid, device, 1.5, 'logs-key');
    const opened = events().find((e) => e.event === 'round-opened' && e.federation === fid);
    expect(opened).toMatchObject({ round: 0, selected: 1, baseVersion: 0 });
    const closed = events().find((e) => e.event === 'round-closed' && e.federation === fid);
    expect(closed).toMatchObject({ round: 0, status: 'published', version: 1, participants: 1 });
    expect(events().some((e) => e.event === 'round-opened' && e.federation === fid && e.round === 1)).toBe(
      true,
    );

    // The secrets this test sends: the admin key, the device token, a session pass (on a refused step too).
    const join = await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: device });
    expect(join.status).toBe(200);
    const { sessionPass } = (await join.json()) as JoinAnswer;
    const step = await call(`/v1/federations/${fid}/rounds/1/steps/0`, {
      method: 'POST',
      body: new Uint8Array(3),
      headers: { ...device, [SESSION_PASS_HEADER]: sessionPass, 'content-type': STEP_CONTENT_TYPE },
    });
    expect(step.status).toBeGreaterThanOrEqual(400);
    const secrets = [
      ADMIN.authorization.slice('Bearer '.length),
      device.authorization.slice('Bearer '.length),
      sessionPass,
    ];
    const all = lines().join('\n');
    for (const secret of secrets) expect(all.includes(secret), 'a secret reached the logs').toBe(false);
    // Every request line is JSON with an id.
    const requests = events().filter((e) => e.event === 'request');
    expect(requests.length).toBeGreaterThan(5);
    for (const r of requests) expect(typeof r.requestId).toBe('string');
  });
});
