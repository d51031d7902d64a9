import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  type coordinator,
  decode,
  federation,
  maxAbsDiff,
  problem,
  sleepUntil,
  update,
  value,
  values,
  weightedMean,
} from './fixtures.js';

type Stub = ReturnType<typeof coordinator>;

const alarmOf = (stub: Stub) => runInDurableObject(stub, (_i, state) => state.storage.getAlarm());

/** Round statuses read straight from SQLite: unlike RPC methods, this never applies a passed deadline itself. */
const storedRounds = (stub: Stub) =>
  runInDurableObject(stub, (_i, state) =>
    state.storage.sql
      .exec<{ round: number; status: string }>('SELECT round, status FROM rounds ORDER BY round')
      .toArray(),
  );

/** Waits out the deadline and runs the alarm (miniflare may already have run it on schedule: same handler). */
async function passDeadline(stub: Stub, deadline: number): Promise<void> {
  await sleepUntil(deadline);
  await runDurableObjectAlarm(stub);
}

describe('round deadlines', () => {
  it('ignores an alarm that fires before the deadline and keeps it pointing at the deadline', async () => {
    const { stub } = await federation('early-alarm', { devices: 2 });
    const r0 = value(await stub.start());
    const deadline = r0.openedAt + 3_600_000;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedRounds(stub)).toEqual([{ round: 0, status: 'open' }]);
    expect(await alarmOf(stub)).toBe(deadline);
  });

  it('publishes with the devices that submitted when a quorum did', async () => {
    const { stub } = await federation('deadline-quorum', {
      devices: 3,
      config: { clientsPerRound: 3, quorum: 2, roundDeadlineSeconds: 1.5, rounds: 3 },
    });
    const r0 = value(await stub.start());
    const [a, b, c] = r0.selected;
    const { ticket } = value(await stub.join(a));
    const ua = values(100);
    const ub = values(101);
    value(await stub.submit(update(a, 0, ua, 7)));
    value(await stub.submit(update(b, 0, ub, 3)));
    expect(value(await stub.state()).latestVersion).toBe(0);

    await passDeadline(stub, ticket.deadline);
    const stored = await storedRounds(stub);
    expect(stored[0]).toEqual({ round: 0, status: 'published' });
    expect(stored[1]).toEqual({ round: 1, status: 'open' });

    const state = value(await stub.state());
    expect(state.latestVersion).toBe(1);
    expect(state.currentRound).toMatchObject({ round: 1, status: 'open' });
    const [h0] = value(await stub.history());
    expect(h0).toMatchObject({ status: 'published', participants: 2, samples: 10, publishedVersion: 1 });
    expect(h0.selected).toHaveLength(3);
    const published = decode(value(await stub.adapters(1, 'all')));
    const expected = weightedMean([
      { vals: ua, n: 7 },
      { vals: ub, n: 3 },
    ]);
    for (const [name, mean] of expected) expect(maxAbsDiff(published.get(name)!, mean)).toBeLessThan(1e-6);

    // The device that missed the deadline is late now.
    expect(await stub.submit(update(c, 0, values(102), 5))).toMatchObject({
      ok: false,
      problem: 'round-closed',
      extensions: { round: 1 },
    });
    expect(await alarmOf(stub)).toBe(state.currentRound!.openedAt + 1500);
  });

  it('fails the round without a quorum: version unchanged, the next round opens and counts', async () => {
    const { stub } = await federation('deadline-fail', {
      devices: 3,
      config: { clientsPerRound: 3, quorum: 2, roundDeadlineSeconds: 1.5, rounds: 2 },
    });
    const r0 = value(await stub.start());
    value(await stub.submit(update(r0.selected[0], 0, values(5), 9)));

    await passDeadline(stub, r0.openedAt + 1500);
    expect(await storedRounds(stub)).toEqual([
      { round: 0, status: 'failed' },
      { round: 1, status: 'open' },
    ]);
    const state = value(await stub.state());
    expect(state).toMatchObject({ status: 'running', latestVersion: 0 });
    const [h0, h1] = value(await stub.history());
    expect(h0).toMatchObject({ status: 'failed', participants: 1, publishedVersion: null });
    expect(h0.closedAt).not.toBeNull();
    expect(h1).toMatchObject({ round: 1, status: 'open' });
    const { ticket } = value(await stub.join(h1.selected[0]));
    expect(ticket).toMatchObject({ round: 1, version: 0 });
    expect(await alarmOf(stub)).toBe(ticket.deadline);
    expect(problem(await stub.adapters(1, 'all'))).toBe('not-found');

    // Round 1 is the last one (config.rounds = 2): failing it too finishes the federation.
    await passDeadline(stub, ticket.deadline);
    expect(value(await stub.state())).toMatchObject({ status: 'finished', latestVersion: 0 });
    expect(await alarmOf(stub)).toBeNull();
  });

  it('applies a passed deadline on the next request even before the alarm runs', async () => {
    const { stub } = await federation('deadline-lazy', {
      devices: 2,
      config: { clientsPerRound: 2, quorum: 1, roundDeadlineSeconds: 1, rounds: 3 },
    });
    const r0 = value(await stub.start());
    value(await stub.submit(update(r0.selected[0], 0, values(8), 2)));
    // Drop the scheduled alarm so only the request can close the round.
    await runInDurableObject(stub, (_i, state) => state.storage.deleteAlarm());
    await sleepUntil(r0.openedAt + 1000);
    expect(await stub.submit(update(r0.selected[1], 0, values(9), 2))).toMatchObject({
      ok: false,
      problem: 'round-closed',
    });
    const state = value(await stub.state());
    expect(state).toMatchObject({ latestVersion: 1, currentRound: { round: 1, status: 'open' } });
    expect(await alarmOf(stub)).toBe(state.currentRound!.openedAt + 1000);
  });
});
