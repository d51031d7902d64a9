import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  decode,
  federation,
  LARGE_TRAINABLES,
  maxAbsDiff,
  update,
  type Values,
  value,
  values,
  weightedMean,
} from './fixtures.js';

const options = {
  devices: 4,
  config: { clientsPerRound: 4, quorum: 4, rounds: 2, strategy: { kind: 'fedavg' as const } },
  trainables: LARGE_TRAINABLES,
};

/** Four updates with unequal sample counts, keyed by device. */
function updates(): Map<string, { vals: Values; n: number }> {
  return new Map([
    ['d0', { vals: values(500, LARGE_TRAINABLES), n: 3 }],
    ['d1', { vals: values(501, LARGE_TRAINABLES), n: 17 }],
    ['d2', { vals: values(502, LARGE_TRAINABLES), n: 1 }],
    ['d3', { vals: values(503, LARGE_TRAINABLES), n: 64 }],
  ]);
}

const submitArg = (device: string, u: { vals: Values; n: number }) =>
  update(device, 0, u.vals, u.n, { trainables: LARGE_TRAINABLES, key: `${device}-r0` });

describe('streaming FedAvg', () => {
  it('equals the direct weighted average whatever the arrival order (tensors spanning several rows)', async () => {
    const ups = updates();
    const forward = await federation('order-forward', options);
    const backward = await federation('order-backward', options);
    value(await forward.stub.start());
    value(await backward.stub.start());
    for (const d of ['d0', 'd1', 'd2', 'd3']) value(await forward.stub.submit(submitArg(d, ups.get(d)!)));
    for (const d of ['d3', 'd1', 'd0', 'd2']) value(await backward.stub.submit(submitArg(d, ups.get(d)!)));

    // The large tensor's float64 accumulator really was split across rows.
    const chunks = await runInDurableObject(forward.stub, (_i, state) =>
      state.storage.sql
        .exec<{ n: number }>(
          `SELECT COUNT(*) AS n FROM adapters WHERE version = 1 AND name = 'tail.norm.weight'`,
        )
        .one(),
    );
    expect(chunks.n).toBe(2); // float32: 1.2 MB over 1 MB pieces

    const a = decode(value(await forward.stub.adapters(1, 'all')));
    const b = decode(value(await backward.stub.adapters(1, 'all')));
    const expected = weightedMean([...ups.values()]);
    expect([...a.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, mean] of expected) {
      expect(maxAbsDiff(a.get(name)!, mean), name).toBeLessThan(1e-6);
      expect(maxAbsDiff(b.get(name)!, mean), name).toBeLessThan(1e-6);
      expect(maxAbsDiff(a.get(name)!, b.get(name)!), name).toBeLessThan(1e-6);
    }
  });

  it('keeps acknowledged updates across evictions: byte-identical result to an uninterrupted round', async () => {
    const ups = updates();
    const steady = await federation('evict-steady', options);
    const evicted = await federation('evict-evicted', options);
    value(await steady.stub.start());
    value(await evicted.stub.start());
    for (const d of ['d0', 'd1', 'd2', 'd3']) value(await steady.stub.submit(submitArg(d, ups.get(d)!)));

    value(await evicted.stub.submit(submitArg('d0', ups.get('d0')!)));
    value(await evicted.stub.submit(submitArg('d1', ups.get('d1')!)));
    const accumulatorRows = await runInDurableObject(evicted.stub, (_i, state) =>
      state.storage.sql
        .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM accumulators WHERE name = 'tail.norm.weight'`)
        .one(),
    );
    expect(accumulatorRows.n).toBe(3); // 2.4 MB of float64 in three 1 MB pieces
    await evictDurableObject(evicted.stub);
    // A retry after the eviction is recognised from storage alone.
    expect(value(await evicted.stub.submit(submitArg('d1', ups.get('d1')!)))).toMatchObject({
      duplicate: true,
      participants: 2,
    });
    value(await evicted.stub.submit(submitArg('d2', ups.get('d2')!)));
    await evictDurableObject(evicted.stub);
    value(await evicted.stub.submit(submitArg('d3', ups.get('d3')!)));
    await evictDurableObject(evicted.stub);

    const steadyBytes = value(await steady.stub.adapters(1, 'all'));
    const evictedBytes = value(await evicted.stub.adapters(1, 'all'));
    expect(evictedBytes.byteLength).toBe(steadyBytes.byteLength);
    expect(evictedBytes).toEqual(steadyBytes);
    expect(value(await evicted.stub.history())[0]).toEqual({
      ...value(await steady.stub.history())[0],
      openedAt: expect.any(Number),
      closedAt: expect.any(Number),
    });
    // Accumulators of a closed round are gone.
    const leftover = await runInDurableObject(evicted.stub, (_i, state) =>
      state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM accumulators').one(),
    );
    expect(leftover.n).toBe(0);
  });
});

describe('buffered strategies (every update kept until the round closes)', () => {
  const median = { ...options, config: { ...options.config, strategy: { kind: 'median' as const } } };

  it('publish the coordinate-wise median of the deltas, identical across evictions, and keep nothing after', async () => {
    const ups = updates();
    const steady = await federation('median-steady', median);
    const evicted = await federation('median-evicted', median);
    value(await steady.stub.start());
    value(await evicted.stub.start());
    for (const d of ['d0', 'd1', 'd2', 'd3']) value(await steady.stub.submit(submitArg(d, ups.get(d)!)));
    for (const d of ['d2', 'd0', 'd3', 'd1']) {
      value(await evicted.stub.submit(submitArg(d, ups.get(d)!)));
      await evictDurableObject(evicted.stub);
    }
    const published = decode(value(await steady.stub.adapters(1, 'all')));
    expect(value(await evicted.stub.adapters(1, 'all'))).toEqual(value(await steady.stub.adapters(1, 'all')));

    const base = steady.initial;
    for (const [name, got] of published) {
      const b = base.get(name)!;
      const cols = [...ups.values()].map((u) => u.vals.get(name)!);
      for (const i of [0, 1, b.length >> 1, b.length - 1]) {
        const sorted = cols.map((c) => Math.fround(c[i] - b[i])).sort((x, y) => x - y);
        const med = (sorted[1] + sorted[2]) / 2;
        expect(got[i], `${name}[${i}]`).toBeCloseTo(b[i] + med, 5);
      }
    }
    const record = value(await evicted.stub.history())[0];
    expect(record.aggregation).toMatchObject({ strategy: 'median', kept: ['d0', 'd1', 'd2', 'd3'].sort() });
    const leftover = await runInDurableObject(evicted.stub, (_i, state) =>
      state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM updates').one(),
    );
    expect(leftover.n).toBe(0);
  });
});
