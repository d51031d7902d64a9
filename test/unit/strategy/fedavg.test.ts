import { describe, expect, it } from 'vitest';
import { fromChunks, MAX_CHUNK_BYTES, toChunks } from '../../../durable-objects/coordinator/chunks.js';
import { accumulate, finalize } from '../../../strategy/fedavg.js';
import { roundSeed, selectDevices } from '../../../strategy/select.js';

describe('fedavg', () => {
  it('computes the sample-weighted mean in float64 and rounds once to float32', () => {
    const acc = new Float64Array(3);
    accumulate(acc, Float32Array.of(1, 2, 3), 1);
    accumulate(acc, Float32Array.of(3, 2, 1), 3);
    expect([...finalize(acc, 4)]).toEqual([2.5, 2, 1.5]);
  });

  it('is independent of arrival order far below float32 resolution', () => {
    const updates = Array.from({ length: 20 }, (_, k) => ({
      values: Float32Array.from({ length: 64 }, (_, i) => Math.sin(k * 7.1 + i) * 10 ** ((k % 5) - 2)),
      weight: 1 + ((k * 37) % 101),
    }));
    const run = (order: typeof updates) => {
      const acc = new Float64Array(64);
      for (const u of order) accumulate(acc, u.values, u.weight);
      return finalize(
        acc,
        order.reduce((s, u) => s + u.weight, 0),
      );
    };
    expect(run([...updates].reverse())).toEqual(run(updates));
  });

  it('refuses mismatched lengths and non-positive weights', () => {
    expect(() => accumulate(new Float64Array(2), new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => accumulate(new Float64Array(2), new Float32Array(2), 0)).toThrow(RangeError);
    expect(() => finalize(new Float64Array(2), 0)).toThrow(RangeError);
  });
});

describe('selection', () => {
  const devices = Array.from({ length: 50 }, (_, i) => `device-${i}`);

  it('draws min(count, enrolled) distinct devices, reproducibly, whatever the input order', () => {
    const picked = selectDevices(devices, 10, 3, 0);
    expect(new Set(picked).size).toBe(10);
    expect(selectDevices([...devices].reverse(), 10, 3, 0)).toEqual(picked);
    expect(selectDevices(devices.slice(0, 4), 10, 3, 0)).toHaveLength(4);
  });

  it('varies with the round and the seed', () => {
    const r0 = selectDevices(devices, 10, 3, 0);
    expect(selectDevices(devices, 10, 3, 1)).not.toEqual(r0);
    expect(selectDevices(devices, 10, 4, 0)).not.toEqual(r0);
    expect(new Set(Array.from({ length: 100 }, (_, r) => roundSeed(3, r))).size).toBe(100);
  });
});

describe('chunks', () => {
  it('splits tensors over the row cap and reassembles them exactly', () => {
    const big = Float64Array.from({ length: 300_000 }, (_, i) => i / 7);
    const parts = toChunks(big);
    expect(parts).toHaveLength(Math.ceil(big.byteLength / MAX_CHUNK_BYTES));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.byteLength <= MAX_CHUNK_BYTES)).toBe(true);
    expect(new Float64Array(fromChunks(parts, big.byteLength, 'big').buffer)).toEqual(big);
    expect(toChunks(new Float32Array(10))).toHaveLength(1);
    expect(() => fromChunks(parts, big.byteLength + 8, 'big')).toThrow(/expected/);
  });
});
