import { describe, expect, it } from 'vitest';
import type { StrategyConfig } from '../../../protocol/federation.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import { type RoundRules, roundAggregator } from '../../../scripts/sim/baseline/aggregate.js';
import type { Params } from '../../../scripts/sim/baseline/model.js';
import { aggregate } from '../../../strategy/aggregate.js';

const specs: TrainableSpec[] = [
  { name: 'a.lora_A', shape: [2, 2], owner: 'head', role: 'lora_A', base: 'a' },
  { name: 'head.bias', shape: [3], owner: 'head', role: 'full', base: 'head.bias' },
];
const params = (a: number[], b: number[]): Params => ({
  'a.lora_A': { dims: [2, 2], data: Float32Array.from(a) },
  'head.bias': { dims: [3], data: Float32Array.from(b) },
});
const rules = (strategy: StrategyConfig = { kind: 'fedavg' }, unverified = false): RoundRules => ({
  strategy,
  bound: { maxAbs: 100 },
  unverified,
});
const global = params([1, 1, 1, 1], [0, 0, 0]);

describe('baseline round aggregation', () => {
  it('is FedAvg over deltas from the global, weighted by the observed samples', () => {
    const agg = roundAggregator(specs, global, rules());
    expect(
      agg.offer({ deviceId: 'd0', params: params([2, 3, 4, 5], [1, 2, 3]), claimed: 10, observed: 10 }),
    ).toMatchObject({ accepted: true, weight: 10 });
    agg.offer({ deviceId: 'd1', params: params([6, 7, 8, 9], [5, 2, -1]), claimed: 30, observed: 30 });
    expect(agg.participants).toBe(2);
    expect(agg.samples).toBe(40);
    const out = agg.result()!;
    expect([...out.params['a.lora_A'].data]).toEqual([5, 6, 7, 8]);
    expect([...out.params['head.bias'].data]).toEqual([4, 2, 0]);
    expect(out.params['a.lora_A'].dims).toEqual([2, 2]);
    expect(out.summary).toMatchObject({ strategy: 'fedavg', kept: ['d0', 'd1'] });
    // The global version is left as it was.
    expect([...global['a.lora_A'].data]).toEqual([1, 1, 1, 1]);
  });

  it('hands the strategy module the deltas, weights and norms', () => {
    const strategy: StrategyConfig = { kind: 'clipped-fedavg', bound: { kind: 'fixed', norm: 1 } };
    const agg = roundAggregator(specs, global, rules(strategy));
    const u = [params([1, 1, 1, 1], [3, 4, 0]), params([1, 1, 1, 2], [0, 0, 0])];
    for (const [i, p] of u.entries()) agg.offer({ deviceId: `d${i}`, params: p, claimed: 5, observed: 5 });
    const out = agg.result()!;
    // The first delta (norm 5) is clipped to norm 1, the second (norm 1) is not.
    const direct = aggregate(
      strategy,
      {
        clients: [
          { deviceId: 'd0', weight: 5, norm: 5 },
          { deviceId: 'd1', weight: 5, norm: 1 },
        ],
        deltas: (name) => u.map((p) => Float32Array.from(p[name].data, (x, i) => x - global[name].data[i])),
      },
      specs.map((s) => s.name),
    );
    expect(out.summary).toEqual(direct.summary);
    expect(out.summary.clipped).toEqual(['d0']);
    expect([...out.params['head.bias'].data]).toEqual([
      ...Float32Array.from(direct.delta('head.bias'), (d, i) => global['head.bias'].data[i] + d),
    ]);
    expect(out.params['head.bias'].data[0]).toBeCloseTo(0.3);
  });

  it('refuses a claimed count its session did not observe, and anything beyond the bound', () => {
    const agg = roundAggregator(specs, global, rules());
    expect(agg.offer({ deviceId: 'liar', params: global, claimed: 1_000_000, observed: 10 })).toMatchObject({
      accepted: false,
      code: 'sample-count-mismatch',
    });
    expect(
      agg.offer({ deviceId: 'big', params: params([1, 1, 1, 100.5], [0, 0, 0]), claimed: 10, observed: 10 }),
    ).toMatchObject({ accepted: false, code: 'value-out-of-bound' });
    agg.offer({ deviceId: 'ok', params: params([3, 3, 3, 3], [0, 0, 0]), claimed: 10, observed: 10 });
    expect(agg.refused).toEqual([
      { deviceId: 'liar', code: 'sample-count-mismatch' },
      { deviceId: 'big', code: 'value-out-of-bound' },
    ]);
    expect(agg.participants).toBe(1);
    expect([...agg.result()!.params['a.lora_A'].data]).toEqual([3, 3, 3, 3]);
  });

  it('refuses a delta beyond the norm bound when the federation sets one', () => {
    const agg = roundAggregator(specs, global, { ...rules(), bound: { maxAbs: 100, maxDeltaNorm: 2 } });
    expect(
      agg.offer({ deviceId: 'far', params: params([1, 1, 1, 1], [3, 0, 0]), claimed: 1, observed: 1 }),
    ).toMatchObject({ accepted: false, code: 'norm-out-of-bound' });
  });

  it('unverified, weights by the claim: one inflated count takes the round', () => {
    const agg = roundAggregator(specs, global, rules({ kind: 'fedavg' }, true));
    agg.offer({ deviceId: 'honest', params: params([1, 1, 1, 1], [0, 0, 0]), claimed: 10, observed: 10 });
    expect(
      agg.offer({ deviceId: 'liar', params: params([5, 5, 5, 5], [0, 0, 0]), claimed: 1e7, observed: 10 }),
    ).toMatchObject({ accepted: true, weight: 1e7 });
    expect(agg.result()!.params['a.lora_A'].data[0]).toBeCloseTo(5, 4);
  });

  it('has no next version when nothing was admitted', () => {
    const agg = roundAggregator(specs, global, rules());
    agg.offer({ deviceId: 'liar', params: global, claimed: 2, observed: 1 });
    expect(agg.result()).toBeNull();
  });

  it('throws on a malformed update (a simulator bug), keeping what it had', () => {
    const agg = roundAggregator(specs, global, rules());
    agg.offer({ deviceId: 'd0', params: params([2, 2, 2, 2], [2, 2, 2]), claimed: 1, observed: 1 });
    const partial = { 'a.lora_A': params([0, 0, 0, 0], [])['a.lora_A'] };
    expect(() => agg.offer({ deviceId: 'd1', params: partial, claimed: 1, observed: 1 })).toThrow(
      /lacks head\.bias/,
    );
    expect(() =>
      agg.offer({ deviceId: 'd2', params: params([9, 9, 9, 9], [9, 9]), claimed: 1, observed: 1 }),
    ).toThrow(/head\.bias has 2 values/);
    expect(agg.participants).toBe(1);
    expect([...agg.result()!.params['a.lora_A'].data]).toEqual([2, 2, 2, 2]);
  });
});
