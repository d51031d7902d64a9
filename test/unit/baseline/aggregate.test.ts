import { describe, expect, it } from 'vitest';
import { accumulate, finalize } from '../../../strategy/fedavg.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import { roundAggregator } from '../../../scripts/sim/baseline/aggregate.js';
import type { Params } from '../../../scripts/sim/baseline/model.js';

const specs: TrainableSpec[] = [
  { name: 'a.lora_A', shape: [2, 2], owner: 'head', role: 'lora_A', base: 'a' },
  { name: 'head.bias', shape: [3], owner: 'head', role: 'full', base: 'head.bias' },
];
const params = (a: number[], b: number[]): Params => ({
  'a.lora_A': { dims: [2, 2], data: Float32Array.from(a) },
  'head.bias': { dims: [3], data: Float32Array.from(b) },
});

describe('baseline FedAvg', () => {
  it('is the sample-weighted mean of every trainable, as the coordinator computes it', () => {
    const agg = roundAggregator(specs);
    const u1 = params([1, 2, 3, 4], [0.1, 0.2, 0.3]);
    const u2 = params([5, 6, 7, 8], [0.7, 0.5, -0.3]);
    agg.add(u1, 10);
    agg.add(u2, 30);
    expect(agg.participants).toBe(2);
    expect(agg.samples).toBe(40);
    const out = agg.result();
    expect([...out['a.lora_A'].data]).toEqual([4, 5, 6, 7]);
    expect(out['a.lora_A'].dims).toEqual([2, 2]);
    // The same float64 accumulation and single float32 rounding as the coordinator's.
    const acc = new Float64Array(3);
    accumulate(acc, u1['head.bias'].data, 10);
    accumulate(acc, u2['head.bias'].data, 30);
    expect(out['head.bias'].data).toEqual(finalize(acc, 40));
  });

  it('does not alias the updates it averaged', () => {
    const agg = roundAggregator(specs);
    const u = params([1, 1, 1, 1], [1, 1, 1]);
    agg.add(u, 5);
    const out = agg.result();
    out['a.lora_A'].data[0] = 99;
    expect(u['a.lora_A'].data[0]).toBe(1);
  });

  it('refuses a malformed update without folding in any part of it', () => {
    const agg = roundAggregator(specs);
    agg.add(params([2, 2, 2, 2], [2, 2, 2]), 1);
    expect(() => agg.add({ 'a.lora_A': params([0, 0, 0, 0], [])['a.lora_A'] }, 1)).toThrow(
      /lacks head\.bias/,
    );
    expect(() => agg.add(params([9, 9, 9, 9], [9, 9]), 1)).toThrow(/head\.bias has 2 values/);
    expect(() => agg.add(params([9, 9, 9, 9], [9, 9, 9]), 0)).toThrow(/weight must be positive/);
    expect(agg.participants).toBe(1);
    expect([...agg.result()['a.lora_A'].data]).toEqual([2, 2, 2, 2]);
  });
});
