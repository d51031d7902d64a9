// Every aggregation strategy against a direct computation written out here
// (sorting columns, trimming, scoring all pairs by hand), on random rounds,
// and the robustness each one promises against outliers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../../../common/random.js';
import type { StrategyConfig } from '../../../protocol/federation.js';
import { aggregate, type ClientUpdate, type RoundUpdates } from '../../../strategy/index.js';

interface Round {
  names: string[];
  /** deltas[client][name] */
  deltas: Record<string, Float32Array>[];
  weights: number[];
}

function randomRound(seed: number, clients: number, sizes: number[] = [7, 3]): Round {
  const random = mulberry32(seed);
  const names = sizes.map((_, i) => `t${i}`);
  return {
    names,
    deltas: Array.from({ length: clients }, () =>
      Object.fromEntries(
        names.map((n, i) => [n, Float32Array.from({ length: sizes[i] }, () => random() * 2 - 1)]),
      ),
    ),
    weights: Array.from({ length: clients }, () => 1 + Math.floor(random() * 50)),
  };
}

const norm = (r: Round, c: number) =>
  Math.sqrt(r.names.reduce((s, n) => s + r.deltas[c][n].reduce((a, x) => a + x * x, 0), 0));

function source(r: Round): RoundUpdates {
  const clients: ClientUpdate[] = r.deltas.map((_, c) => ({
    deviceId: `d${c}`,
    weight: r.weights[c],
    norm: norm(r, c),
  }));
  return { clients, deltas: (name) => r.deltas.map((d) => d[name]) };
}

/** DP-FedAvg's options: 5 expected clients, noise from a fixed seed (the same draws on every run). */
const dpOptions = () => ({ expectedClients: 5, uniform: mulberry32(99) });

const run = (config: StrategyConfig, r: Round) => {
  const a = aggregate(config, source(r), r.names, undefined, dpOptions());
  return { summary: a.summary, out: Object.fromEntries(r.names.map((n) => [n, a.delta(n)])) };
};

const column = (r: Round, name: string, i: number) => r.deltas.map((d) => d[name][i]).sort((a, b) => a - b);
const closeTo = (got: Float32Array, want: number[]) => {
  for (const [i, w] of want.entries()) expect(got[i]).toBeCloseTo(w, 5);
};

describe('each strategy equals its direct computation', () => {
  it('fedavg: the weighted mean', () => {
    const r = randomRound(1, 6);
    const { out } = run({ kind: 'fedavg' }, r);
    const total = r.weights.reduce((a, b) => a + b, 0);
    for (const n of r.names) {
      closeTo(
        out[n],
        Array.from(
          r.deltas[0][n],
          (_, i) => r.deltas.reduce((s, d, c) => s + r.weights[c] * d[n][i], 0) / total,
        ),
      );
    }
  });

  it('coordinate-wise median, odd and even client counts', () => {
    for (const clients of [5, 6]) {
      const r = randomRound(clients, clients);
      const { out } = run({ kind: 'median' }, r);
      for (const n of r.names) {
        closeTo(
          out[n],
          Array.from(r.deltas[0][n], (_, i) => {
            const col = column(r, n, i);
            const m = col.length >> 1;
            return col.length % 2 ? col[m] : (col[m - 1] + col[m]) / 2;
          }),
        );
      }
    }
  });

  it('trimmed mean cuts ⌊trim·n⌋ values at each end', () => {
    const r = randomRound(3, 10);
    const { out } = run({ kind: 'trimmed-mean', trim: 0.2 }, r);
    for (const n of r.names) {
      closeTo(
        out[n],
        Array.from(r.deltas[0][n], (_, i) => {
          const kept = column(r, n, i).slice(2, 8);
          return kept.reduce((a, b) => a + b, 0) / kept.length;
        }),
      );
    }
  });

  it('clipped FedAvg scales deltas above the bound to it, fixed and adaptive', () => {
    const r = randomRound(4, 7);
    const norms = r.deltas.map((_, c) => norm(r, c));
    const sorted = [...norms].sort((a, b) => a - b);
    for (const [config, c] of [
      [{ kind: 'clipped-fedavg', bound: { kind: 'fixed', norm: 1.5 } }, 1.5],
      [{ kind: 'clipped-fedavg', bound: { kind: 'adaptive', quantile: 0.5, multiplier: 1 } }, sorted[3]],
    ] as Array<[StrategyConfig, number]>) {
      const { out, summary } = run(config, r);
      expect(summary.bound).toBeCloseTo(c, 6);
      expect(summary.clipped.sort()).toEqual(
        r.deltas
          .map((_, i) => `d${i}`)
          .filter((_, i) => norms[i] > c)
          .sort(),
      );
      const total = r.weights.reduce((a, b) => a + b, 0);
      for (const n of r.names) {
        closeTo(
          out[n],
          Array.from(
            r.deltas[0][n],
            (_, i) =>
              r.deltas.reduce((s, d, k) => s + r.weights[k] * Math.min(1, c / norms[k]) * d[n][i], 0) / total,
          ),
        );
      }
    }
  });

  it('Multi-Krum keeps the n − f clients with the best neighbourhood scores and averages them by weight', () => {
    const r = randomRound(5, 8);
    const config: StrategyConfig = { kind: 'multi-krum', byzantine: 0.25 };
    const { out, summary } = run(config, r);
    const n = 8;
    const f = 2;
    const dist = (a: number, b: number) =>
      r.names.reduce(
        (s, name) => s + r.deltas[a][name].reduce((t, x, i) => t + (x - r.deltas[b][name][i]) ** 2, 0),
        0,
      );
    const scores = Array.from({ length: n }, (_, a) =>
      Array.from({ length: n }, (_, b) => b)
        .filter((b) => b !== a)
        .map((b) => dist(a, b))
        .sort((x, y) => x - y)
        .slice(0, n - f - 2)
        .reduce((s, x) => s + x, 0),
    );
    const kept = scores
      .map((_, i) => i)
      .sort((a, b) => scores[a] - scores[b])
      .slice(0, n - f);
    expect(summary.kept).toEqual(kept.map((i) => `d${i}`));
    const total = kept.reduce((s, i) => s + r.weights[i], 0);
    for (const name of r.names) {
      closeTo(
        out[name],
        Array.from(
          r.deltas[0][name],
          (_, i) => kept.reduce((s, k) => s + r.weights[k] * r.deltas[k][name][i], 0) / total,
        ),
      );
    }
  });
});

describe('robustness', () => {
  /** A round of honest clients near 0.1, with `bad` attackers sending `value` everywhere. */
  function attacked(honest: number, bad: number, value: number): Round {
    const r = randomRound(honest + bad, honest + bad, [16]);
    for (let c = 0; c < honest; c++) r.deltas[c].t0 = r.deltas[c].t0.map((x) => 0.1 + 0.01 * x);
    for (let c = honest; c < honest + bad; c++) r.deltas[c].t0 = new Float32Array(16).fill(value);
    return r;
  }

  it('median, trimmed mean and Multi-Krum stay within the honest range however large the attack', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (value) => {
        const r = attacked(8, 2, value);
        for (const config of [
          { kind: 'median' },
          { kind: 'trimmed-mean', trim: 0.2 },
          { kind: 'multi-krum', byzantine: 0.2 },
        ] as StrategyConfig[]) {
          const out = run(config, r).out.t0;
          for (const x of out) expect(Math.abs(x - 0.1)).toBeLessThanOrEqual(0.011);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('clipped FedAvg bounds how far attackers move the mean; plain FedAvg does not', () => {
    const r = attacked(8, 2, 1e6);
    const plain = run({ kind: 'fedavg' }, r).out.t0;
    const clipped = run(
      { kind: 'clipped-fedavg', bound: { kind: 'adaptive', quantile: 0.5, multiplier: 2 } },
      r,
    );
    expect(Math.max(...plain)).toBeGreaterThan(1e4);
    for (const x of clipped.out.t0) expect(Math.abs(x)).toBeLessThan(0.25);
    expect(clipped.summary.clipped).toEqual(['d8', 'd9']);
  });
});

describe('DP-FedAvg', () => {
  it('is the clipped sum over the expected clients plus z·C/m Gaussian noise, every client alike', () => {
    const r = randomRound(5, 4, [6, 3]);
    const config: StrategyConfig = { kind: 'dp-fedavg', clip: 0.9, noiseMultiplier: 1.3, delta: 1e-5 };
    const { out, summary } = run(config, r);
    const m = 5;
    const std = (1.3 * 0.9) / m;
    const normal = gaussian(mulberry32(99));
    for (const n of r.names) {
      const want = Array.from({ length: r.deltas[0][n].length }, (_, i) => {
        const sum = r.deltas.reduce((s, d, c) => s + Math.min(1, 0.9 / norm(r, c)) * d[n][i], 0);
        return sum / m + std * normal();
      });
      closeTo(out[n], want);
    }
    expect(summary).toMatchObject({ strategy: 'dp-fedavg', bound: 0.9, noiseStd: std });
    expect(summary.clipped).toEqual(r.deltas.map((_, c) => `d${c}`).filter((_, c) => norm(r, c) > 0.9));
  });

  it('bounds what one client moves the average by C/m, whatever it sends', () => {
    const r = randomRound(6, 4, [5]);
    const config: StrategyConfig = { kind: 'dp-fedavg', clip: 1, noiseMultiplier: 1, delta: 1e-5 };
    const honest = run(config, r).out.t0;
    r.deltas[0].t0 = r.deltas[0].t0.map((x) => x * 1e12);
    const attacked = aggregate(
      config,
      { ...source(r), clients: source(r).clients },
      r.names,
      undefined,
      dpOptions(),
    ).delta('t0');
    const moved = Math.hypot(...attacked.map((x, i) => x - honest[i]));
    expect(moved).toBeLessThanOrEqual((2 * 1) / 5 + 1e-6);
  });

  it('needs its options', () => {
    const r = randomRound(7, 3);
    expect(() =>
      aggregate({ kind: 'dp-fedavg', clip: 1, noiseMultiplier: 1, delta: 1e-5 }, source(r), r.names),
    ).toThrow(RangeError);
  });
});

describe('sliced aggregation', () => {
  const strategies: StrategyConfig[] = [
    { kind: 'fedavg' },
    { kind: 'clipped-fedavg', bound: { kind: 'adaptive', quantile: 0.5, multiplier: 1 } },
    { kind: 'median' },
    { kind: 'trimmed-mean', trim: 0.2 },
    { kind: 'multi-krum', byzantine: 0.2 },
    { kind: 'dp-fedavg', clip: 0.8, noiseMultiplier: 1, delta: 1e-5 },
  ];

  it('reading each tensor a slice at a time gives the whole-tensor result, for every strategy', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 << 30 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(...strategies),
        (seed, clients, slice, config) => {
          const r = randomRound(seed, clients, [13, 1, 5]);
          const whole = run(config, r);
          const reads: number[] = [];
          const slicedSource: RoundUpdates = {
            clients: source(r).clients,
            deltas: (name, from = 0, to) => {
              reads.push((to ?? r.deltas[0][name].length) - from);
              return r.deltas.map((d) => d[name].slice(from, to));
            },
          };
          const sizes = new Map(r.names.map((n) => [n, r.deltas[0][n].length]));
          const a = aggregate(config, slicedSource, r.names, { sizes, slice }, dpOptions());
          expect(a.summary).toEqual(whole.summary);
          for (const n of r.names) expect([...a.delta(n)]).toEqual([...whole.out[n]]);
          // No read was wider than the slice.
          expect(Math.max(...reads)).toBeLessThanOrEqual(slice);
        },
      ),
      { numRuns: 200 },
    );
  });
});
