import { describe, expect, it } from 'vitest';
import { FederationConfig } from '../../../protocol/federation.js';
import { lrFactor, roundOptimizers } from '../../../strategy/configure.js';

const BASE_CONFIG = {
  modelId: 'm',
  rounds: 3,
  clientsPerRound: 1,
  quorum: 1,
  roundDeadlineSeconds: 60,
  localEpochs: 1,
  batchSize: 8,
  uplink: 'int8',
  downlink: 'int8',
  budgetBytesPerRound: 1000,
  headOptimizer: { kind: 'sgd', lr: 0.1 },
  tailOptimizer: { kind: 'sgd', lr: 0.1 },
} as const;

describe('round learning-rate schedule', () => {
  const cosine = { kind: 'cosine' as const, floor: 0.05 };

  it('keeps the configured rate when constant or absent', () => {
    for (const round of [0, 3, 9]) {
      expect(lrFactor({ kind: 'constant' }, round, 10)).toBe(1);
      expect(lrFactor(undefined, round, 10)).toBe(1);
    }
  });

  it('runs a cosine from 1 at the first round to the floor at the last, never rising', () => {
    const rounds = 20;
    const factors = Array.from({ length: rounds }, (_, r) => lrFactor(cosine, r, rounds));
    expect(factors[0]).toBe(1);
    expect(factors[rounds - 1]).toBeCloseTo(0.05, 12);
    // halfway through the rounds, halfway between the ends
    expect(lrFactor(cosine, 10, 21)).toBeCloseTo((1 + 0.05) / 2, 12);
    for (let r = 1; r < rounds; r++) expect(factors[r]).toBeLessThan(factors[r - 1]);
    // rounds past the end (a federation extended by hand) stay at the floor
    expect(lrFactor(cosine, 25, rounds)).toBeCloseTo(0.05, 12);
    // a single round trains at the full rate
    expect(lrFactor(cosine, 0, 1)).toBe(1);
  });

  it('scales both optimizers and leaves their other settings alone', () => {
    const config = FederationConfig.parse({
      ...BASE_CONFIG,
      headOptimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 },
      tailOptimizer: { kind: 'adamw', lr: 0.01 },
      lrSchedule: { kind: 'cosine', floor: 0.5 },
    });
    expect(roundOptimizers(config, 0)).toEqual({ head: config.headOptimizer, tail: config.tailOptimizer });
    const last = roundOptimizers(config, 2);
    expect(last.head).toEqual({ kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 });
    expect(last.tail).toEqual({ kind: 'adamw', lr: 0.005, weightDecay: 0.01 });
  });

  it('defaults to constant and refuses floors outside [0, 1]', () => {
    const base = BASE_CONFIG;
    expect(FederationConfig.parse(base).lrSchedule).toEqual({ kind: 'constant' });
    expect(FederationConfig.parse({ ...base, lrSchedule: { kind: 'cosine' } }).lrSchedule).toEqual({
      kind: 'cosine',
      floor: 0.05,
    });
    for (const lrSchedule of [
      { kind: 'cosine', floor: 1.5 },
      { kind: 'cosine', floor: -0.1 },
      { kind: 'step' },
    ]) {
      expect(FederationConfig.safeParse({ ...base, lrSchedule }).success).toBe(false);
    }
  });
});
