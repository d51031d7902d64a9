// `federation watch` without a server: a round's events replayed through the
// pure view, checking the lines printed, the bars and the header.
import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  deviceBar,
  headerLine,
  initialView,
  type Line,
  type WatchView,
} from '../../../operator/events/view.js';
import type { FederationEvent } from '../../../protocol/events.js';
import { federationState, progressEvent, roundEvent, roundRecord, T0 } from './fixtures.js';

/** Replays events, collecting what would be printed (minor lines marked) and when bars were rebuilt. */
function replay(events: FederationEvent[], from: WatchView = initialView('fed-1')) {
  let view = from;
  const lines: Line[] = [];
  const rebuilds: number[] = [];
  events.forEach((e, i) => {
    const u = applyEvent(view, e);
    view = u.view;
    lines.push(...u.lines);
    if (u.rebuild) rebuilds.push(i);
  });
  return { view, lines: lines.map((l) => (l.minor ? `(${l.text})` : l.text)), rebuilds };
}

const bars = (view: WatchView) =>
  view.devices.map((d) => {
    const b = deviceBar(view, d);
    return `${b.payload.device.trim()} ${b.value}/${b.total} ${b.payload.steps} ${b.payload.loss} ${b.payload.traffic} ${b.payload.state}`;
  });

const evaluation = {
  samples: 500,
  accuracy: 0.83,
  meanLoss: 0.47,
  source: 'edge' as const,
  by: 'ab',
  evaluatedAt: T0,
};

describe('the watch view', () => {
  it('says it is connecting until the snapshot, then where the federation stands', () => {
    expect(headerLine(initialView('fed-1'), T0)).toBe('fed-1: connecting…');
    const { view, lines, rebuilds } = replay([{ type: 'snapshot', at: T0, state: federationState() }]);
    expect(lines).toEqual(['watching fed-1: running, no round opened yet, version 0']);
    expect(rebuilds).toEqual([0]);
    expect(headerLine(view, T0)).toBe('fed-1 · waiting for round 0 (federation start) · version 0');
  });

  it('follows a round from opening to its published version', () => {
    const { view, lines, rebuilds } = replay([
      { type: 'snapshot', at: T0, state: federationState() },
      roundEvent('opened', {}),
      roundEvent('joined', { joined: ['alice'] }, 'alice'),
      progressEvent('alice', 4),
      roundEvent('joined', { joined: ['alice', 'bob'] }, 'bob'),
      progressEvent('bob', 2),
      progressEvent('alice', 8),
      roundEvent('submitted', { joined: ['alice', 'bob'], participants: 1, samples: 256 }, 'alice'),
    ]);
    expect(rebuilds).toEqual([0, 1]);
    expect(lines).toEqual([
      'watching fed-1: running, no round opened yet, version 0',
      'round 0 (1/3) opened on version 0: 2 device(s) selected (alice, bob), closes 2026-01-01T12:10:00Z',
      '(alice joined round 0 (1/3) (1/2))',
      '(bob joined round 0 (1/3) (2/2))',
      '(alice submitted to round 0 (1/3) (1/2))',
    ]);
    // No round has told what to expect of a device yet: its bar runs against the round's leader.
    expect(bars(view)).toEqual([
      'alice 8/8 8 1.2000 ↑8.00 kB ↓16.0 kB submitted',
      'bob 2/8 2 1.8000 ↑2.00 kB ↓4.00 kB joined',
    ]);
    expect(headerLine(view, T0 + 61_000)).toBe(
      'fed-1 · round 0 (1/3) training · 2/2 joined · 1 submitted · closes in 8m59s · version 0',
    );
    expect(headerLine(view, T0 + 601_000)).toContain('deadline passed');

    const settled = { participants: 2, samples: 512, meanLoss: 0.61, clientAccuracy: 0.79 };
    const totals = { ...settled, uplinkBytes: 1_200_000, downlinkBytes: 2_400_000, closedAt: T0 + 90_000 };
    const after = replay(
      [
        progressEvent('bob', 8),
        roundEvent('closed', {
          joined: ['alice', 'bob'],
          status: 'evaluating',
          ...totals,
          publishedVersion: 1,
        }),
        roundEvent('settled', {
          joined: ['alice', 'bob'],
          status: 'published',
          ...totals,
          publishedVersion: 1,
        }),
        {
          type: 'version',
          at: T0,
          version: { version: 1, round: 0, status: 'published', createdAt: T0, evaluation },
        },
      ],
      view,
    );
    expect(after.lines).toEqual([
      'round 0 (1/3) closed: evaluating',
      'round 0 (1/3) published version 1: 2/2 submitted, 512 samples, loss 0.6100, client accuracy 79.0%, ' +
        '↑1.20 MB ↓2.40 MB, took 1m30s',
      'version 1 published: accuracy 83.0%, loss 0.4700 on 500 samples (edge)',
    ]);
    expect(after.view.version).toBe(1);
    expect(after.view.expectedSteps).toEqual({}); // learnt when the next round opens
    expect(headerLine(after.view, T0)).not.toContain('closes in');
  });

  it('starts the next round’s bars from zero against what each device ran before', () => {
    const base = replay([
      { type: 'snapshot', at: T0, state: federationState() },
      roundEvent('opened', {}),
      progressEvent('alice', 10),
      progressEvent('bob', 6),
      roundEvent('closed', {
        status: 'published',
        participants: 2,
        closedAt: T0 + 1000,
        publishedVersion: 1,
      }),
    ]).view;
    const next = replay(
      [
        roundEvent('opened', { round: 1, selected: ['bob', 'carol'] }),
        progressEvent('bob', 3, 1),
        progressEvent('alice', 99, 0), // a late word about the last round: ignored
      ],
      base,
    );
    expect(next.rebuilds).toEqual([0]);
    expect(bars(next.view)).toEqual([
      'bob 3/6 3/6 1.7000 ↑3.00 kB ↓6.00 kB joined',
      'carol 0/3 0 - ↑0 B ↓0 B selected',
    ]);
    // Past what it was last heard at (progress comes at most once a second): its count alone.
    const past = replay([progressEvent('bob', 7, 1)], next.view);
    expect(bars(past.view)[0]).toBe('bob 7/7 7 1.3000 ↑7.00 kB ↓14.0 kB joined');
  });

  it('is whole again after a reconnect: the snapshot keeps the round’s progress and says so', () => {
    const before = replay([
      { type: 'snapshot', at: T0, state: federationState() },
      roundEvent('opened', {}),
      progressEvent('alice', 5),
    ]).view;
    const current = roundRecord({ status: 'training', joined: ['alice', 'bob'] });
    const after = replay(
      [{ type: 'snapshot', at: T0, state: federationState({ currentRound: current }) }],
      before,
    );
    expect(after.lines).toEqual(['reconnected to fed-1: running, round 0 (1/3) training, version 0']);
    expect(after.rebuilds).toEqual([]);
    expect(bars(after.view)).toEqual([
      'alice 5/5 5 1.5000 ↑5.00 kB ↓10.0 kB joined',
      'bob 0/5 0 - ↑0 B ↓0 B joined',
    ]);
    // A snapshot taken mid-round, the first one heard: the deadline is the round's opening plus the config's.
    const fresh = replay([{ type: 'snapshot', at: T0, state: federationState({ currentRound: current }) }]);
    expect(fresh.view.deadline).toBe(T0 + 600_000);
  });

  it('reports a failed round and ends at `finished`', () => {
    const { view, lines } = replay([
      { type: 'snapshot', at: T0, state: federationState() },
      roundEvent('opened', {}),
      roundEvent('closed', { status: 'failed', participants: 1, closedAt: T0 + 600_000 }),
      {
        type: 'finished',
        at: T0,
        state: federationState({
          status: 'closed',
          currentRound: roundRecord({ status: 'failed', participants: 1 }),
        }),
      },
    ]);
    expect(lines.slice(2)).toEqual([
      'round 0 (1/3) failed: 1/2 submitted',
      'federation fed-1 closed at version 0; last round 0 (1/3) failed: 1/2 submitted',
    ]);
    expect(view.finished).toBe(true);
  });

  it('is over at once when the first snapshot shows a finished federation', () => {
    const { view, lines } = replay([
      { type: 'snapshot', at: T0, state: federationState({ status: 'finished' }) },
    ]);
    expect(view.finished).toBe(true);
    expect(lines).toEqual([
      'watching fed-1: finished, no round opened yet, version 0',
      'federation fed-1 finished at version 0',
    ]);
  });
});
