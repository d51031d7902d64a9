import { describe, expect, it } from 'vitest';
import {
  type ByzantineRun,
  byzantineMatrix,
  byzantineRows,
  byzantineTable,
  byzantineTargets,
} from '../../../scripts/sim/baseline/byzantine.js';
import { parseBaselineArgs } from '../../../scripts/sim/baseline/config.js';
import type { BaselineResults, BaselineRound } from '../../../scripts/sim/baseline/results.js';

const settings = {
  rounds: 30,
  seed: 0,
  malicious: 0.2,
  evalEvery: 10,
  evalSamples: 0,
  quick: false,
  outDir: 'results/byz',
};

describe('Byzantine matrix', () => {
  const matrix = byzantineMatrix(settings);

  it('runs attack-free FedAvg, then every attack against FedAvg and each robust strategy', () => {
    expect(matrix.map((s) => s.id)).toEqual([
      'clean-fedavg',
      ...['sign-flip', 'large-norm', 'inflated-count', 'label-flip'].flatMap((a) =>
        ['fedavg', 'clipped-fedavg', 'median', 'trimmed-mean', 'multi-krum'].map((k) => `${a}-${k}`),
      ),
      'inflated-count-fedavg-unverified',
      'inflated-count-multi-krum-unverified',
    ]);
  });

  it('narrows to the attacks asked for, keeping the attack-free run and the unverified counts with inflated-count', () => {
    const ids = (attacks: Parameters<typeof byzantineMatrix>[0]['attacks']) =>
      byzantineMatrix({ ...settings, attacks }).map((s) => s.id);
    expect(ids(['label-flip'])).toEqual([
      'clean-fedavg',
      ...['fedavg', 'clipped-fedavg', 'median', 'trimmed-mean', 'multi-krum'].map((k) => `label-flip-${k}`),
    ]);
    expect(ids(['inflated-count']).slice(-2)).toEqual([
      'inflated-count-fedavg-unverified',
      'inflated-count-multi-krum-unverified',
    ]);
  });

  it('gives every run the same federation and optimizer, and each its strategy and attack', () => {
    for (const s of matrix) {
      const c = parseBaselineArgs(s.argv);
      expect(c).toMatchObject({
        clients: 50,
        perRound: 10,
        rounds: 30,
        alpha: 0.5,
        localEpochs: 2,
        batch: 32,
      });
      expect(c).toMatchObject({ optimizer: 'adamw', lr: 0.002, lrSchedule: 'cosine', seed: 0 });
      expect(c).toMatchObject({ evalSamples: 0, evalEvery: 10, out: `results/byz/${s.id}` });
      expect(c).toMatchObject({ attack: s.attack, unverified: s.unverified, malicious: 0.2 });
      expect(c.strategy.kind).toBe(s.strategy);
      expect(s.command).toBe(`npm run baseline -- ${s.argv.join(' ')}`);
    }
    const byId = new Map(matrix.map((s) => [s.id, parseBaselineArgs(s.argv).strategy]));
    expect(byId.get('label-flip-trimmed-mean')).toEqual({ kind: 'trimmed-mean', trim: 0.2 });
    expect(byId.get('label-flip-multi-krum')).toEqual({ kind: 'multi-krum', byzantine: 0.2 });
    expect(byId.get('label-flip-clipped-fedavg')).toEqual({
      kind: 'clipped-fedavg',
      bound: { kind: 'adaptive', quantile: 0.5, multiplier: 2 },
    });
  });

  it('reports each run against attack-free FedAvg and checks the best robust strategy per attack', () => {
    const round = (index: number, accuracy: number | null, refused: number): BaselineRound =>
      ({
        round: index,
        accuracy,
        malicious: 2,
        refused,
        refusals: Array.from({ length: refused }, () => ({ deviceId: 'x', code: 'sample-count-mismatch' })),
        lost: 0,
        status: 'published',
      }) as BaselineRound;
    const run = (id: string, accuracy: number, refused = 0): ByzantineRun => ({
      setup: matrix.find((s) => s.id === id)!,
      results: {
        final_accuracy: accuracy,
        total_seconds: 1,
        rounds: [round(0, null, refused), round(1, accuracy, refused)],
      } as BaselineResults,
    });
    const rows = byzantineRows([
      run('clean-fedavg', 0.8),
      run('sign-flip-fedavg', 0.3),
      run('sign-flip-median', 0.77),
      run('sign-flip-multi-krum', 0.785),
      run('inflated-count-fedavg', 0.79, 2),
      run('inflated-count-median', 0.75, 2),
    ]);
    expect(rows[1]).toMatchObject({ delta_pts: expect.closeTo(-50, 9), attacker_selections: 4, refused: 0 });
    expect(rows[4]).toMatchObject({ refused: 4, refused_by: { 'sample-count-mismatch': 4 } });
    expect(rows[0].scored).toEqual({ '2': 0.8 });
    const targets = byzantineTargets(rows);
    expect(targets.map((t) => [t.attack, t.pass, t.best])).toEqual([
      ['sign-flip', true, 'Multi-Krum (byzantine 0.2)'],
      ['inflated-count', false, 'coordinate median'],
    ]);
    const table = byzantineTable(rows);
    expect(table).toContain('| sign-flip | FedAvg | 30.0 | 30.00% | −50.00 | 0 | 4 |');
  });
});
