// `federation watch` as a command, over a scripted WebSocket: how it
// connects and authenticates, and what each kind of output prints.
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { barSink } from '../../../cli/watch/terminal.js';
import { applyEvent, initialView } from '../../../operator/events/view.js';
import { BEARER_PROTOCOL_PREFIX, EVENTS_PROTOCOL, type FederationEvent } from '../../../protocol/events.js';
import { ADMIN_KEY, federationState, progressEvent, roundEvent, runCli, T0 } from './fixtures.js';

const published = {
  status: 'published' as const,
  joined: ['alice', 'bob'],
  participants: 2,
  samples: 64,
  meanLoss: 1.25,
  clientAccuracy: 0.5,
  closedAt: T0 + 30_000,
  publishedVersion: 1,
};

const ROUND: FederationEvent[] = [
  { type: 'snapshot', at: T0, state: federationState() },
  roundEvent('opened', {}),
  roundEvent('joined', { joined: ['alice'] }, 'alice'),
  progressEvent('alice', 3),
  roundEvent('closed', published),
  { type: 'finished', at: T0, state: federationState({ status: 'finished', currentVersion: 1 }) },
];

/** Records how it was opened, then says `events` and closes as the Worker would. */
function socketSaying(events: FederationEvent[], opened: Array<{ url: string; protocols: string[] }>) {
  return class extends EventTarget {
    readyState = 0;
    constructor(url: string, protocols: string[]) {
      super();
      opened.push({ url, protocols });
      setTimeout(() => {
        this.readyState = 1;
        for (const e of events) this.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(e) }));
      }, 1);
    }
    send() {}
    close() {
      this.readyState = 3;
    }
  } as unknown as typeof WebSocket;
}

describe('federation watch', () => {
  it('opens ws:// with the admin key in a subprotocol and prints each transition', async () => {
    const opened: Array<{ url: string; protocols: string[] }> = [];
    const r = await runCli(['federation', 'watch', 'fed-1'], undefined, {
      WebSocket: socketSaying(ROUND, opened),
    });
    expect(r.code).toBe(0);
    expect(opened).toEqual([
      {
        url: 'ws://127.0.0.1:8787/v1/federations/fed-1/events',
        protocols: [EVENTS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${ADMIN_KEY}`],
      },
    ]);
    expect(r.stdout.split('\n')).toEqual([
      'watching fed-1: running, no round opened yet, version 0',
      'round 0 (1/3) opened on version 0: 2 device(s) selected (alice, bob), closes 2026-01-01T12:10:00Z',
      'alice joined round 0 (1/3) (1/2)',
      'round 0 (1/3) published version 1: 2/2 submitted, 64 samples, loss 1.2500, client accuracy 50.0%, ↑0 B ↓0 B, took 30s',
      'federation fed-1 finished at version 1',
      '',
    ]);
    expect(r.stdout).not.toContain(ADMIN_KEY);
  });

  it('prints every event as one JSON line with --json', async () => {
    const r = await runCli(
      ['federation', 'watch', 'fed-1', '--json', '--url', 'https://fl.example.com/'],
      undefined,
      {
        WebSocket: socketSaying(ROUND, []),
      },
    );
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(ROUND);
  });

  it('draws bars on a terminal, with the transitions above them', async () => {
    let written = '';
    const sink = barSink({ write: (s: string) => (written += s), isTTY: true }, () => T0 + 60_000);
    let view = initialView('fed-1');
    for (const e of ROUND.slice(0, 4)) {
      const u = applyEvent(view, e);
      view = u.view;
      sink.event(e, u);
    }
    sink.stop();
    const text = stripVTControlCharacters(written);
    expect(text).toContain('round 0 (1/3) opened on version 0');
    expect(text).toContain('fed-1 · round 0 (1/3) training · 1/2 joined · 0 submitted · closes in 9m00s');
    expect(text).toMatch(/alice +\|█+\| 3 steps · loss 1\.7000 · ↑3\.00 kB ↓6\.00 kB · joined/);
    expect(text).not.toContain('alice joined round 0'); // the bar says it
  });
});
