// The live event stream over the real route and the coordinator's
// hibernatable WebSockets: an operator connected before the start hears the
// snapshot, the round opening, the device joining, its progress, its update
// and the round closing with the version it published, in that order, each
// message a valid protocol/events.ts event.
import { describe, expect, it } from 'vitest';
import { BEARER_PROTOCOL_PREFIX, EVENTS_PROTOCOL, FederationEvent } from '../../../protocol/events.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, admin, CONFIG, round } from './single-device.js';

const KEY = ADMIN.authorization.slice('Bearer '.length);

async function created(): Promise<{ fid: string; device: Record<string, string> }> {
  const fid = `events-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  expect((await admin('/v1/federations', { id: fid, config: { ...CONFIG, rounds: 2 } })).status).toBe(201);
  const enrolled = await admin(`/v1/federations/${fid}/devices`, { deviceId: 'dev-a' });
  const { token } = (await enrolled.json()) as { token: string };
  return { fid, device: { authorization: `Bearer ${token}` } };
}

/** Opens the stream the way a browser must: the key in the subprotocol. */
async function watch(fid: string) {
  const res = await call(`/v1/federations/${fid}/events`, {
    headers: {
      upgrade: 'websocket',
      'sec-websocket-protocol': `${EVENTS_PROTOCOL}, ${BEARER_PROTOCOL_PREFIX}${KEY}`,
    },
  });
  expect(res.status).toBe(101);
  expect(res.headers.get('sec-websocket-protocol')).toBe(EVENTS_PROTOCOL);
  const ws = res.webSocket!;
  const events: FederationEvent[] = [];
  const waiters: Array<() => void> = [];
  ws.addEventListener('message', (m) => {
    events.push(FederationEvent.parse(JSON.parse(m.data as string)));
    for (const w of waiters.splice(0)) w();
  });
  ws.accept();
  /** Waits until an event satisfies `pred`. */
  const until = async (pred: (e: FederationEvent) => boolean) => {
    while (!events.some(pred)) await new Promise<void>((r) => waiters.push(r));
  };
  return { ws, events, until };
}

describe('GET /v1/federations/:fid/events', () => {
  it('pushes every transition of a round, in order, to a watcher', async () => {
    const { fid, device } = await created();
    const { ws, events, until } = await watch(fid);
    await until((e) => e.type === 'snapshot');
    expect(events[0]).toMatchObject({ type: 'snapshot', state: { id: fid, devices: 1, currentRound: null } });

    expect((await admin(`/v1/federations/${fid}/start`)).status).toBe(200);
    await round(fid, device, 1.1, 'k0');
    await until((e) => e.type === 'round' && e.cause === 'opened' && e.round.round === 1);

    const seen = events.map((e) =>
      e.type === 'round'
        ? `${e.cause}:${e.round.round}`
        : e.type === 'version'
          ? `version:${e.version.version}`
          : e.type,
    );
    expect(seen).toEqual([
      'snapshot',
      'opened:0',
      'joined:0',
      'progress',
      'closed:0',
      'version:1',
      'opened:1',
    ]);
    const joined = events.find((e) => e.type === 'round' && e.cause === 'joined');
    expect(joined).toMatchObject({ deviceId: 'dev-a', round: { joined: ['dev-a'], status: 'training' } });
    const progress = events.find((e) => e.type === 'progress');
    expect(progress).toMatchObject({ round: 0, deviceId: 'dev-a', steps: 1, samples: 8 });
    const closed = events.find((e) => e.type === 'round' && e.cause === 'closed');
    expect(closed).toMatchObject({ round: { status: 'published', participants: 1, publishedVersion: 1 } });
    ws.close(1000);
  });

  it('says the federation finished', async () => {
    const { fid } = await created();
    const { ws, until } = await watch(fid);
    await until((e) => e.type === 'snapshot');
    expect((await admin(`/v1/federations/${fid}/close`)).status).toBe(200);
    await until((e) => e.type === 'finished' && e.state.status === 'closed');
    ws.close(1000);
  });

  it('refuses a request that is not a WebSocket, lacks the subprotocol or the key, or names no federation', async () => {
    const { fid } = await created();
    const plain = await call(`/v1/federations/${fid}/events`, { headers: ADMIN });
    expect(plain.status).toBe(426);
    expect((await problemOf(plain)).type).toMatch(/upgrade-required$/);

    const noProtocol = await call(`/v1/federations/${fid}/events`, {
      headers: { ...ADMIN, upgrade: 'websocket' },
    });
    expect(noProtocol.status).toBe(400);

    const wrongKey = await call(`/v1/federations/${fid}/events`, {
      headers: {
        upgrade: 'websocket',
        'sec-websocket-protocol': `${EVENTS_PROTOCOL}, ${BEARER_PROTOCOL_PREFIX}nope`,
      },
    });
    expect(wrongKey.status).toBe(403);
    const noKey = await call(`/v1/federations/${fid}/events`, {
      headers: { upgrade: 'websocket', 'sec-websocket-protocol': EVENTS_PROTOCOL },
    });
    expect(noKey.status).toBe(401);

    const unknown = await call('/v1/federations/no-such-federation/events', {
      headers: { ...ADMIN, upgrade: 'websocket', 'sec-websocket-protocol': EVENTS_PROTOCOL },
    });
    expect(unknown.status).toBe(404);
  });
});
