import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { dirichlet, dirichletPartition, labelSkew } from '../../../scripts/sim/dirichlet.js';

const CLASSES = 10;
// 5,000 examples, 500 per class, with the non-contiguous indices a train split has.
const labels = Int32Array.from({ length: 10_000 }, (_, i) => i % CLASSES);
const indices = Int32Array.from({ length: 5_000 }, (_, k) => 2 * k + (k % 2));

const partition = (alpha: number, seed = 0, clients = 50) =>
  dirichletPartition(indices, labels, CLASSES, { clients, alpha, seed });

describe('dirichletPartition', () => {
  it('gives every example to exactly one client', () => {
    const parts = partition(0.5);
    expect(parts).toHaveLength(50);
    expect(parts.reduce((s, p) => s + p.length, 0)).toBe(indices.length);
    const all = parts.flatMap((p) => Array.from(p)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from(indices).sort((a, b) => a - b));
  });

  it('leaves no client empty, even at a very small alpha', () => {
    for (const alpha of [0.01, 0.1, 0.5]) {
      const parts = partition(alpha, 3);
      expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(1);
    }
  });

  it('honours minPerClient', () => {
    const parts = dirichletPartition(indices, labels, CLASSES, {
      clients: 50,
      alpha: 0.05,
      seed: 1,
      minPerClient: 20,
    });
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(20);
    expect(parts.reduce((s, p) => s + p.length, 0)).toBe(indices.length);
  });

  it('is reproducible from its seed and changes with it', () => {
    expect(partition(0.5, 7)).toEqual(partition(0.5, 7));
    expect(partition(0.5, 7)).not.toEqual(partition(0.5, 8));
  });

  it('skews labels more as alpha shrinks', () => {
    const skew = (alpha: number) => labelSkew(partition(alpha, 11), labels, CLASSES);
    const [tiny, small, large] = [skew(0.1), skew(0.5), skew(100)];
    expect(tiny).toBeGreaterThan(small);
    expect(small).toBeGreaterThan(large);
    expect(large).toBeLessThan(0.15);
    expect(tiny).toBeGreaterThan(0.6);
  });

  it('rejects impossible requests', () => {
    expect(() => partition(0)).toThrow(RangeError);
    expect(() =>
      dirichletPartition(indices.subarray(0, 3), labels, CLASSES, { clients: 5, alpha: 1, seed: 0 }),
    ).toThrow(RangeError);
  });
});

describe('dirichlet', () => {
  it('draws a probability vector', () => {
    const p = dirichlet(20, 0.3, mulberry32(4));
    expect(p.every((v) => v >= 0)).toBe(true);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('has mean 1/n per component', () => {
    const random = mulberry32(9);
    const mean = new Float64Array(4);
    const draws = 4000;
    for (let d = 0; d < draws; d++) {
      const p = dirichlet(4, 0.5, random);
      for (let i = 0; i < 4; i++) mean[i] += p[i] / draws;
    }
    for (const m of mean) expect(m).toBeCloseTo(0.25, 1);
  });
});
