import { describe, expect, it } from 'vitest';
import { parseBaselineArgs } from '../../../scripts/sim/baseline/config.js';
import { experimentMatrix } from '../../../scripts/sim/baseline/matrix.js';
import { parseSimArgs, SIM_DEFAULTS } from '../../../scripts/sim/config.js';

describe('experiment matrix', () => {
  const matrix = experimentMatrix({
    rounds: 7,
    localEpochs: 2,
    seed: 3,
    quick: false,
    optimizer: 'sgd' as const,
    lr: 0.01,
    lrSchedule: 'cosine' as const,
    evalSamples: 0,
    outDir: 'results/x',
  });

  it('runs the split federation at each uplink with an int8 downlink on the SFLAM federation', () => {
    expect(matrix.sfl.map((s) => s.uplink)).toEqual(['fp32', 'int8', 'int4', 'int2']);
    for (const s of matrix.sfl) {
      const c = parseSimArgs(s.argv);
      expect(c).toMatchObject({ clients: 50, perRound: 10, rounds: 7, alpha: 0.5, localEpochs: 2, seed: 3 });
      expect(c).toMatchObject({ lrSchedule: 'cosine', evalSamples: 0 });
      expect(c).toMatchObject({ uplink: s.uplink, downlink: 'int8', out: `results/x/${s.id}` });
      expect(s.command).toBe(`npm run sim -- ${s.argv.join(' ')}`);
    }
  });

  it('gives the baseline the same federation, batches and optimizer as the split runs', () => {
    const b = parseBaselineArgs(matrix.baseline.argv);
    const s = parseSimArgs(matrix.sfl[0].argv);
    for (const key of [
      'clients',
      'perRound',
      'rounds',
      'alpha',
      'localEpochs',
      'batch',
      'optimizer',
      'momentum',
      'lrSchedule',
      'seed',
      'samplesPerClient',
      'evalSamples',
    ] as const) {
      expect(b[key], key).toEqual(s[key]);
    }
    expect(b.lr).toBe(s.lrHead);
    expect(s.lrTail).toBe(s.lrHead);
    expect(matrix.baseline.command).toBe(`npx tsx scripts/baseline.ts ${matrix.baseline.argv.join(' ')}`);
  });

  it('shrinks to a smoke test with --quick', () => {
    const quick = experimentMatrix({
      rounds: 2,
      localEpochs: 1,
      seed: 0,
      quick: true,
      optimizer: 'sgd' as const,
      lr: 0.01,
      lrSchedule: 'constant' as const,
      evalSamples: 2000,
      outDir: 'o',
    });
    expect(parseBaselineArgs(quick.baseline.argv)).toMatchObject({
      clients: 3,
      perRound: 3,
      rounds: 2,
      samplesPerClient: 128,
    });
  });
});

describe('baseline flags', () => {
  it('default to the simulator’s settings', () => {
    const c = parseBaselineArgs([]);
    expect(c).toMatchObject({
      clients: SIM_DEFAULTS.clients,
      perRound: SIM_DEFAULTS.perRound,
      rounds: SIM_DEFAULTS.rounds,
      alpha: SIM_DEFAULTS.alpha,
      localEpochs: SIM_DEFAULTS.localEpochs,
      batch: SIM_DEFAULTS.batch,
      lr: SIM_DEFAULTS.lrHead,
      optimizer: 'sgd',
      momentum: SIM_DEFAULTS.momentum,
      lrSchedule: 'constant',
      seed: SIM_DEFAULTS.seed,
      evalSamples: SIM_DEFAULTS.evalSamples,
      json: false,
    });
  });

  it('select everyone when fewer are enrolled than asked for', () => {
    expect(parseBaselineArgs(['--clients', '4', '--per-round', '10']).perRound).toBe(4);
  });
});
