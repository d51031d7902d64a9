// The watch's connection against scripted sockets: events checked and passed
// on, a dropped socket opened again, a refused one explained by the API.
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../../operator/client.js';
import { backoffDelay, type FollowOptions, followEvents } from '../../../operator/events/follow.js';
import type { FederationEvent } from '../../../protocol/events.js';
import { federationState, progressEvent, T0 } from './fixtures.js';

/** A WebSocket the test drives: it opens, speaks and drops when told. */
class ScriptedSocket extends EventTarget {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | undefined;
  send(data: string) {
    this.sent.push(data);
  }
  close(code: number) {
    this.closedWith = code;
    this.drop(code);
  }
  say(...messages: Array<FederationEvent | string>) {
    this.readyState = 1;
    for (const m of messages) {
      const data = typeof m === 'string' ? m : JSON.stringify(m);
      this.dispatchEvent(new MessageEvent('message', { data }));
    }
  }
  /** A refused handshake as Node reports it: `error`, and `close` only much later. */
  fail() {
    this.dispatchEvent(new Event('error'));
  }
  drop(code = 1006) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason: '' }));
  }
}

const snapshot = (status: 'running' | 'finished' = 'running'): FederationEvent => ({
  type: 'snapshot',
  at: T0,
  state: federationState({ status }),
});
const finished: FederationEvent = {
  type: 'finished',
  at: T0,
  state: federationState({ status: 'finished' }),
};

/** A client whose n-th socket runs script[n] once opened. */
function scriptedClient(
  scripts: Array<(ws: ScriptedSocket) => void>,
  probe: () => Promise<void> = async () => {},
) {
  const sockets: ScriptedSocket[] = [];
  return {
    sockets,
    probeEvents: vi.fn(probe),
    openEvents: vi.fn(async () => {
      const ws = new ScriptedSocket();
      const script = scripts[sockets.length];
      sockets.push(ws);
      setTimeout(() => script?.(ws), 1);
      return ws as unknown as WebSocket;
    }),
  };
}

function follow(
  client: ReturnType<typeof scriptedClient>,
  signal = new AbortController().signal,
  more: Partial<FollowOptions> = {},
) {
  const events: string[] = [];
  const notices: string[] = [];
  const options: FollowOptions = {
    signal,
    onEvent: (e) => {
      events.push(e.type);
      return e.type === 'finished' || (e.type === 'snapshot' && e.state.status !== 'running');
    },
    onNotice: (text) => notices.push(text),
    backoff: { initialMs: 1, maxMs: 4 },
    ...more,
  };
  return { events, notices, end: followEvents(client, 'fed-1', options) };
}

describe('following the event stream', () => {
  it('passes valid events on, skips what is not one, and reconnects after a drop until finished', async () => {
    const client = scriptedClient([
      (ws) => {
        ws.say(
          snapshot(),
          'pong',
          'not json',
          JSON.stringify({ type: 'progress', round: -1 }),
          progressEvent('alice', 1),
        );
        ws.drop();
      },
      (ws) => ws.say(snapshot(), finished),
    ]);
    const { events, notices, end } = follow(client);
    expect(await end).toBe('over');
    expect(events).toEqual(['snapshot', 'progress', 'snapshot', 'finished']);
    expect(notices[0]).toMatch(/^ignored a message that is not JSON/);
    expect(notices[1]).toMatch(/^ignored a message that is not a federation event/);
    expect(notices[2]).toMatch(/^connection lost \(closed with code 1006\); reconnecting in 0\.0 s$/);
    // It heard from the Worker before the drop: no need to ask why it failed.
    expect(client.probeEvents).not.toHaveBeenCalled();
    expect(client.sockets[1].closedWith).toBe(1000);
  });

  it('ends with the API’s problem when the stream is refused for good', async () => {
    const refused = new ApiError('GET', '/v1/federations/fed-1/events', {
      type: 'urn:splitflare:problem:unknown-federation',
      title: 'Unknown federation',
      status: 404,
    });
    const client = scriptedClient([(ws) => ws.drop()], async () => {
      throw refused;
    });
    await expect(follow(client).end).rejects.toBe(refused);
  });

  it('keeps trying while the failure is the server’s or the network’s', async () => {
    let probes = 0;
    const client = scriptedClient(
      [(ws) => ws.drop(), (ws) => ws.drop(), (ws) => ws.say(snapshot('finished'))],
      async () => {
        probes++;
        throw new ApiError('GET', '/x', { type: 'about:blank', title: 'Bad Gateway', status: 502 });
      },
    );
    const { notices, end } = follow(client);
    expect(await end).toBe('over');
    expect(probes).toBe(2);
    expect(notices.map((n) => n.replace(/.*in /, ''))).toEqual(['0.0 s', '0.0 s']);
  });

  it('takes a failed handshake’s `error` as the end of the attempt, without waiting for `close`', async () => {
    const client = scriptedClient([(ws) => ws.fail(), (ws) => ws.say(snapshot('finished'))]);
    const { notices, end } = follow(client);
    expect(await end).toBe('over');
    expect(client.probeEvents).toHaveBeenCalledTimes(1);
    expect(notices).toEqual(['connection lost (could not connect); reconnecting in 0.0 s']);
  });

  it('gives up on a socket that never answers, and tries again', async () => {
    const client = scriptedClient([() => {}, (ws) => ws.say(snapshot('finished'))]);
    const { notices, end } = follow(client, undefined, { connectTimeoutMs: 20 });
    expect(await end).toBe('over');
    expect(notices).toEqual(['connection lost (no answer); reconnecting in 0.0 s']);
    expect(client.sockets[0].closedWith).toBe(1000);
  });

  it('stops on the signal and closes the socket', async () => {
    const stop = new AbortController();
    const client = scriptedClient([(ws) => ws.say(snapshot())]);
    const { events, end } = follow(client, stop.signal);
    await vi.waitFor(() => expect(events).toEqual(['snapshot']));
    stop.abort();
    expect(await end).toBe('aborted');
    expect(client.sockets[0].closedWith).toBe(1000);
  });

  it('waits longer after each failed attempt, up to a cap', () => {
    const b = { initialMs: 500, maxMs: 15_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b))).toEqual([
      500, 1000, 2000, 4000, 8000, 15_000, 15_000,
    ]);
  });
});
