import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../../common/safetensors.js';
import {
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

describe('submissions', () => {
  it('applies a retried submission once and refuses a second, different one', async () => {
    const { stub } = await federation('retry', { devices: 2 });
    const [a, b] = value(await stub.start()).selected;
    const ua = values(31);
    const first = update(a, 0, ua, 6, { key: 'a-0' });
    expect(value(await stub.submit(first))).toEqual({ round: 0, participants: 1, duplicate: false });
    expect(value(await stub.submit(first))).toEqual({ round: 0, participants: 1, duplicate: true });
    // Same key with other content is still the same request: nothing is applied.
    expect(
      value(await stub.submit({ ...update(a, 0, values(99), 50), idempotencyKey: 'a-0' })),
    ).toMatchObject({
      duplicate: true,
    });
    expect(problem(await stub.submit(update(a, 0, ua, 6, { key: 'a-0-again' })))).toBe(
      'duplicate-submission',
    );

    const ub = values(32);
    const last = update(b, 0, ub, 2, { key: 'b-0' });
    value(await stub.submit(last));
    // A retry of the submit that published the round is still acknowledged.
    expect(value(await stub.submit(last))).toEqual({ round: 0, participants: 2, duplicate: true });

    const published = decode(value(await stub.adapters(1, 'all')));
    const expected = weightedMean([
      { vals: ua, n: 6 },
      { vals: ub, n: 2 },
    ]);
    for (const [name, mean] of expected) expect(maxAbsDiff(published.get(name)!, mean)).toBeLessThan(1e-6);
    expect(value(await stub.history())[0]).toMatchObject({ participants: 2, samples: 8 });
  });

  it('refuses late, wrong-round, unselected and unenrolled submissions', async () => {
    const { stub } = await federation('rounds', { devices: 3, config: { rounds: 3 } });
    const r0 = value(await stub.start());
    const outsider = ['d0', 'd1', 'd2'].find((d) => !r0.selected.includes(d))!;
    expect(await stub.submit(update(r0.selected[0], 1, values(1), 1))).toMatchObject({
      ok: false,
      problem: 'wrong-round',
      extensions: { round: 0 },
    });
    expect(await stub.submit(update(outsider, 0, values(1), 1))).toMatchObject({
      ok: false,
      problem: 'not-selected',
      extensions: { round: 0 },
    });
    expect(problem(await stub.submit(update('nobody', 0, values(1), 1)))).toBe('not-enrolled');
    for (const d of r0.selected) value(await stub.submit(update(d, 0, values(2), 1)));
    const r1 = value(await stub.state()).currentRound!;
    expect(r1.round).toBe(1);
    // Round 0 has closed: anything for it now is late (a selected latecomer is covered by the deadline tests).
    expect(problem(await stub.submit(update(outsider, 0, values(3), 1)))).toBe('round-closed');
    expect(problem(await stub.submit(update(r1.selected[0], 2, values(3), 1)))).toBe('wrong-round');
  });

  it('refuses invalid updates without recording anything', async () => {
    const { stub } = await federation('invalid', { devices: 2 });
    const [a, b] = value(await stub.start()).selected;
    const good = values(40);
    const base = update(a, 0, good, 4);

    const wrongShape = encodeSafetensors(
      new Map(
        TRAINABLES.filter((t) => t.owner === 'head').map((t) => [
          t.name,
          { dtype: 'float32' as const, dims: [...t.shape].reverse(), data: good.get(t.name)! },
        ]),
      ),
    );
    const nan = new Map(good);
    nan.set(
      'tail.fc.lora_B',
      Float32Array.from(good.get('tail.fc.lora_B')!, (v, i) => (i === 3 ? Number.NaN : v)),
    );
    const inf = new Map(good);
    inf.set(
      'head.proj.lora_A',
      Float32Array.from(good.get('head.proj.lora_A')!, (v, i) => (i === 0 ? -Infinity : v)),
    );
    const missing = new Map(good);
    missing.delete('tail.fc.lora_A');
    const missingTail = encodeSafetensors(
      new Map([
        ['tail.fc.lora_B', { dtype: 'float32' as const, dims: [3, 2], data: good.get('tail.fc.lora_B')! }],
      ]),
    );
    const int32 = encodeSafetensors(
      new Map(
        TRAINABLES.filter((t) => t.owner === 'head').map((t) => [
          t.name,
          { dtype: 'int32' as const, dims: [...t.shape], data: new Int32Array(good.get(t.name)!.length) },
        ]),
      ),
    );

    const cases: Array<[string, Record<string, unknown>]> = [
      ['wrong shape', { head: wrongShape }],
      ['NaN', { tail: encode(nan, 'tail') }],
      ['infinity', { head: encode(inf, 'head') }],
      ['missing tensor', { tail: missingTail }],
      ['extra tensor', { head: encode(good, 'all') }],
      ['sides swapped', { head: base.tail, tail: base.head }],
      ['wrong dtype', { head: int32 }],
      ['not safetensors', { tail: new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9, 9, 9]) }],
      ['empty', { head: new Uint8Array(0) }],
      ['zero samples', { sampleCount: 0 }],
      ['fractional samples', { sampleCount: 1.5 }],
      ['bad metrics', { metrics: { meanLoss: -1, accuracy: 2, steps: 1 } }],
    ];
    for (const [what, change] of cases) {
      const result = await stub.submit({ ...base, ...change } as typeof base);
      expect({ what, problem: problem(result) }).toEqual({ what, problem: 'invalid-update' });
    }
    expect(problem(await stub.submit({ ...base, idempotencyKey: '' }))).toBe('bad-request');
    expect(problem(await stub.submit({ ...base, deviceId: 'no spaces allowed' }))).toBe('bad-request');
    expect(value(await stub.state()).currentRound).toMatchObject({ participants: 0, status: 'open' });

    // The same device can still submit a valid update, and it is the only thing aggregated.
    value(await stub.submit(base));
    const ub = values(41);
    value(await stub.submit(update(b, 0, ub, 1)));
    const published = decode(value(await stub.adapters(1, 'all')));
    const expected = weightedMean([
      { vals: good, n: 4 },
      { vals: ub, n: 1 },
    ]);
    for (const [name, mean] of expected) expect(maxAbsDiff(published.get(name)!, mean)).toBeLessThan(1e-6);
  });

  it('checks adapters arguments', async () => {
    const { stub } = await federation('adapter-args', { devices: 1 });
    expect(problem(await stub.adapters(-1, 'all'))).toBe('bad-request');
    expect(problem(await stub.adapters(0.5, 'all'))).toBe('bad-request');
    expect(problem(await stub.adapters(0, 'both' as 'all'))).toBe('bad-request');
    expect(problem(await stub.adapters(1, 'head'))).toBe('not-found');
  });
});
