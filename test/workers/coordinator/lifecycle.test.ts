import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  config,
  coordinator,
  decode,
  encode,
  federation,
  maxAbsDiff,
  problem,
  TRAINABLES,
  update,
  value,
  values,
  weightedMean,
} from './fixtures.js';

const alarmOf = (stub: ReturnType<typeof coordinator>) =>
  runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());

describe('federation lifecycle', () => {
  it('answers unknown-federation on every method of an object that was never created', async () => {
    const stub = coordinator('never-created');
    expect(problem(await stub.state())).toBe('unknown-federation');
    expect(problem(await stub.history())).toBe('unknown-federation');
    expect(problem(await stub.enroll('d0'))).toBe('unknown-federation');
    expect(problem(await stub.start())).toBe('unknown-federation');
    expect(problem(await stub.join('d0'))).toBe('unknown-federation');
    expect(problem(await stub.adapters(0, 'all'))).toBe('unknown-federation');
    expect(problem(await stub.submit(update('d0', 0, values(1), 1)))).toBe('unknown-federation');
    expect(problem(await stub.close())).toBe('unknown-federation');
    // Probing stored nothing: the object still has no tables.
    const tables = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray(),
    );
    expect(tables.filter((t) => !String(t.name).startsWith('_cf_'))).toEqual([]);
  });

  it('creates idempotently and refuses a different configuration or invalid initial values', async () => {
    const stub = coordinator('create-once');
    const initial = encode(values(1), 'all');
    const input = { id: 'create-once', config: config(), trainables: TRAINABLES, initial, cut: 'embed' };
    const first = value(await stub.create(input));
    expect(first).toMatchObject({
      id: 'create-once',
      status: 'running',
      devices: 0,
      currentRound: null,
      latestVersion: 0,
    });
    expect(value(await stub.create(input))).toEqual(first);
    expect(problem(await stub.create({ ...input, config: config({ rounds: 5 }) }))).toBe('federation-exists');

    const fresh = coordinator('create-bad');
    const bad = { id: 'create-bad', config: config(), trainables: TRAINABLES, cut: 'embed' };
    expect(problem(await fresh.create({ ...bad, initial: encode(values(1), 'head') }))).toBe('bad-request');
    expect(problem(await fresh.create({ ...bad, initial: new Uint8Array([1, 2, 3]) }))).toBe('bad-request');
    expect(problem(await fresh.create({ ...bad, initial, config: config({ quorum: 5 }) }))).toBe(
      'bad-request',
    );
    expect(problem(await fresh.state())).toBe('unknown-federation');
  });

  it('runs rounds from enrolment to finish: selection, tickets, publish on the last submit, next round', async () => {
    const id = 'lifecycle';
    const { stub, initial } = await federation(id, { devices: 3 });
    expect(value(await stub.enroll('d0')).deviceId).toBe('d0'); // idempotent
    expect(value(await stub.state()).devices).toBe(3);
    expect(problem(await stub.join('d0'))).toBe('no-open-round');

    const r0 = value(await stub.start());
    expect(r0).toMatchObject({ round: 0, status: 'open', participants: 0, publishedVersion: null });
    expect(r0.selected).toHaveLength(2);
    expect(problem(await stub.start())).toBe('conflict');
    const [a, b] = r0.selected;
    const outsider = ['d0', 'd1', 'd2'].find((d) => !r0.selected.includes(d))!;

    expect(problem(await stub.join('stranger'))).toBe('not-enrolled');
    const refused = await stub.join(outsider);
    expect(refused).toMatchObject({ ok: false, problem: 'not-selected', extensions: { round: 0 } });

    const joined = value(await stub.join(a));
    const { ticket } = joined;
    expect(ticket).toMatchObject({
      federationId: id,
      deviceId: a,
      round: 0,
      version: 0,
      modelId: 'vit-mnist',
      cut: 'embed',
      uplink: 'int8',
      batchSize: 8,
      localEpochs: 1,
      budgetBytes: 1_000_000,
    });
    expect(ticket.deadline).toBe(r0.openedAt + 3_600_000);
    expect(await alarmOf(stub)).toBe(ticket.deadline);
    // The tail it carries is version 0's tail side.
    const tail = decode(joined.tail);
    expect([...tail.keys()].sort()).toEqual(['tail.fc.lora_A', 'tail.fc.lora_B']);
    expect(tail.get('tail.fc.lora_A')).toEqual(initial.get('tail.fc.lora_A'));
    expect(joined.tail).toEqual(value(await stub.adapters(0, 'tail')));
    expect(value(await stub.join(a)).ticket).toEqual(ticket);
    await evictDurableObject(stub);
    expect(value(await stub.join(a)).ticket).toEqual(ticket);
    expect(await alarmOf(stub)).toBe(ticket.deadline);
    expect(value(await stub.state()).currentRound?.status).toBe('training');

    const ua = values(10);
    const ub = values(11);
    expect(value(await stub.submit(update(a, 0, ua, 30, { loss: 2, accuracy: 0.2 })))).toEqual({
      round: 0,
      participants: 1,
      duplicate: false,
    });
    expect(value(await stub.state()).latestVersion).toBe(0);
    // b never joined: submitting is enough (its ticket may have come from a retried join).
    expect(value(await stub.submit(update(b, 0, ub, 10, { loss: 1, accuracy: 0.6 })))).toMatchObject({
      participants: 2,
    });

    const afterFirst = value(await stub.state());
    expect(afterFirst.latestVersion).toBe(1);
    expect(afterFirst.currentRound).toMatchObject({ round: 1, status: 'open', participants: 0 });
    expect(await alarmOf(stub)).toBe(afterFirst.currentRound!.openedAt + 3_600_000);

    const [h0] = value(await stub.history());
    expect(h0).toMatchObject({
      round: 0,
      status: 'published',
      publishedVersion: 1,
      participants: 2,
      samples: 40,
      uplinkBytes: 2000,
      downlinkBytes: 1000,
    });
    expect(h0.meanLoss).toBeCloseTo((2 * 30 + 1 * 10) / 40, 12);
    expect(h0.clientAccuracy).toBeCloseTo((0.2 * 30 + 0.6 * 10) / 40, 12);
    expect(h0.closedAt).not.toBeNull();

    const published = decode(value(await stub.adapters(1, 'all')));
    const expected = weightedMean([
      { vals: ua, n: 30 },
      { vals: ub, n: 10 },
    ]);
    for (const [name, mean] of expected) expect(maxAbsDiff(published.get(name)!, mean)).toBeLessThan(1e-6);
    expect([...decode(value(await stub.adapters(1, 'head'))).keys()].sort()).toEqual([
      'head.proj.lora_A',
      'head.proj.lora_B',
    ]);
    expect(problem(await stub.adapters(2, 'all'))).toBe('not-found');

    // Round 1 trains from version 1; when it publishes, config.rounds (2) is reached.
    const r1 = afterFirst.currentRound!;
    const t1 = value(await stub.join(r1.selected[0])).ticket;
    expect(t1).toMatchObject({ round: 1, version: 1 });
    for (const d of r1.selected) value(await stub.submit(update(d, 1, values(20), 5)));
    const done = value(await stub.state());
    expect(done).toMatchObject({ status: 'finished', latestVersion: 2 });
    expect(done.currentRound).toMatchObject({ round: 1, status: 'published', publishedVersion: 2 });
    expect(await alarmOf(stub)).toBeNull();
    expect(problem(await stub.join(r1.selected[0]))).toBe('federation-finished');
    expect(problem(await stub.enroll('newcomer'))).toBe('federation-finished');
    expect(problem(await stub.start())).toBe('federation-finished');
    expect(value(await stub.history()).map((r) => r.status)).toEqual(['published', 'published']);
  });

  it("hands out each round's scheduled learning rate to the device and its session", async () => {
    const { stub } = await federation('schedule', {
      devices: 2,
      config: {
        clientsPerRound: 2,
        lrSchedule: { kind: 'cosine', floor: 0.1 },
        headOptimizer: { kind: 'adamw', lr: 0.002, weightDecay: 0.01 },
      },
    });
    const r0 = value(await stub.start());
    const first = value(await stub.join(r0.selected[0]));
    // Round 0 of 2 is the top of the cosine, round 1 its floor.
    expect(first.ticket.headOptimizer).toEqual({ kind: 'adamw', lr: 0.002, weightDecay: 0.01 });
    expect(first.tailOptimizer).toEqual({ kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 });
    for (const d of r0.selected) value(await stub.submit(update(d, 0, values(5), 5)));
    const r1 = value(await stub.state()).currentRound!;
    const second = value(await stub.join(r1.selected[0]));
    expect(second.ticket.round).toBe(1);
    expect(second.ticket.headOptimizer.lr).toBeCloseTo(0.0002, 12);
    expect(second.tailOptimizer.lr).toBeCloseTo(0.001, 12);
    // The stored configuration keeps the base rates.
    expect(value(await stub.state()).config.headOptimizer.lr).toBe(0.002);
  });

  it('selects deterministically from the seed and the round', async () => {
    const a = await federation('select-a', { devices: 6, config: { clientsPerRound: 3, seed: 42 } });
    const b = await federation('select-b', { devices: 6, config: { clientsPerRound: 3, seed: 42 } });
    const sa = value(await a.stub.start()).selected;
    expect(value(await b.stub.start()).selected).toEqual(sa);
    expect(new Set(sa).size).toBe(3);
  });

  it('refuses to start without devices', async () => {
    const { stub } = await federation('no-devices', { devices: 0 });
    expect(await stub.start()).toMatchObject({
      ok: false,
      problem: 'conflict',
      extensions: { reason: 'no-devices' },
    });
  });

  it('close stops the rounds: the live round fails, the alarm goes, joins and submits are refused', async () => {
    const { stub } = await federation('closing', { devices: 2 });
    const r0 = value(await stub.start());
    const [a, b] = r0.selected;
    value(await stub.submit(update(a, 0, values(3), 4)));
    const closed = value(await stub.close());
    expect(closed).toMatchObject({ status: 'closed', latestVersion: 0 });
    expect(closed.currentRound).toMatchObject({ round: 0, status: 'failed', participants: 1 });
    expect(closed.currentRound?.closedAt).not.toBeNull();
    expect(await alarmOf(stub)).toBeNull();
    expect(problem(await stub.join(b))).toBe('federation-finished');
    expect(problem(await stub.submit(update(b, 0, values(4), 4)))).toBe('federation-finished');
    expect(problem(await stub.enroll('late'))).toBe('federation-finished');
    expect(value(await stub.close())).toEqual(closed);
    // Published versions stay readable after close.
    expect(value(await stub.adapters(0, 'all')).byteLength).toBeGreaterThan(0);
  });
});
