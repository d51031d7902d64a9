import { describe, expect, it } from 'vitest';
import {
  batchIndices,
  batchOf,
  denormalize,
  IDENTITY_NORMALIZATION,
  loadDataset,
  loadFashionMnist,
  loadMnist,
  NORMALIZATION,
  normalizeBytes,
  shuffled,
  trainTestSplit,
} from '../../../datasets/index.js';

function classCounts(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

function meanStd(xs: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const x of xs) {
    s += x;
    s2 += x * x;
  }
  const mean = s / xs.length;
  return { mean, std: Math.sqrt(s2 / xs.length - mean * mean) };
}

describe('mnist', () => {
  it('loads 10,000 normalized 1x28x28 digits with their labels', async () => {
    const ds = await loadMnist();
    expect(ds).toMatchObject({ name: 'mnist', channels: 1, height: 28, width: 28, size: 10_000 });
    expect(ds.classes).toHaveLength(10);
    expect(ds.images.length).toBe(10_000 * 784);
    expect(classCounts(ds.labels, 10)).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const { mean, std } = NORMALIZATION.mnist;
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBeCloseTo((0 - mean[0]) / std[0], 5);
    expect(max).toBeCloseTo((1 - mean[0]) / std[0], 5);
    // The documented constants fit this data: normalized pixels are about N(0, 1).
    const stats = meanStd(ds.images);
    expect(Math.abs(stats.mean)).toBeLessThan(0.01);
    expect(Math.abs(stats.std - 1)).toBeLessThan(0.01);
  });

  it('is cached per process', async () => {
    const [a, b] = await Promise.all([loadMnist(), loadDataset('mnist')]);
    expect(a).toBe(b);
  });

  it('honours a custom normalization without reloading the other', async () => {
    const plain = await loadMnist({ normalization: IDENTITY_NORMALIZATION });
    const normal = await loadMnist();
    expect(plain).not.toBe(normal);
    expect(plain.labels).toEqual(normal.labels);
    for (let i = 0; i < plain.images.length; i += 97) {
      expect(plain.images[i]).toBeGreaterThanOrEqual(0);
      expect(plain.images[i]).toBeLessThanOrEqual(1);
      expect(normal.images[i]).toBeCloseTo((plain.images[i] - 0.1307) / 0.3081, 5);
    }
  });
});

describe('fashion-mnist', () => {
  it('loads 70,000 normalized 1x28x28 images, 7,000 per class', async () => {
    const ds = await loadFashionMnist();
    expect(ds).toMatchObject({ name: 'fashion-mnist', channels: 1, height: 28, width: 28, size: 70_000 });
    expect(ds.classes[9]).toBe('Ankle boot');
    expect(classCounts(ds.labels, 10)).toEqual(new Array(10).fill(7000));
    const stats = meanStd(ds.images);
    expect(Math.abs(stats.mean)).toBeLessThan(0.01);
    expect(Math.abs(stats.std - 1)).toBeLessThan(0.01);
  });
});

describe('batchOf', () => {
  it('gathers images and labels in index order', async () => {
    const ds = await loadMnist();
    const indices = [9999, 0, 5000];
    const batch = batchOf(ds, indices);
    expect(batch.shape).toEqual([3, 1, 28, 28]);
    expect(Array.from(batch.labels)).toEqual(indices.map((i) => ds.labels[i]));
    indices.forEach((i, k) => {
      expect(batch.pixels.subarray(k * 784, (k + 1) * 784)).toEqual(
        ds.images.subarray(i * 784, (i + 1) * 784),
      );
    });
  });

  it('rejects indices outside the dataset', async () => {
    const ds = await loadMnist();
    expect(() => batchOf(ds, [10_000])).toThrow(RangeError);
    expect(() => batchOf(ds, [-1])).toThrow(RangeError);
    expect(() => batchOf(ds, [0.5])).toThrow(RangeError);
  });

  it('batchIndices covers every index once, the last batch shorter', () => {
    const batches = [...batchIndices([5, 6, 7, 8, 9], 2)];
    expect(batches).toEqual([[5, 6], [7, 8], [9]]);
  });
});

describe('trainTestSplit', () => {
  const ds = {
    classes: ['a', 'b', 'c'],
    labels: Int32Array.from({ length: 300 }, (_, i) => (i < 100 ? 0 : i < 250 ? 1 : 2)),
  };

  it('is disjoint, complete and stratified', () => {
    const { train, test } = trainTestSplit(ds, { testFraction: 0.2, seed: 7 });
    expect(train.length + test.length).toBe(300);
    expect(new Set([...train, ...test]).size).toBe(300);
    expect(
      classCounts(
        Array.from(test, (i) => ds.labels[i]),
        3,
      ),
    ).toEqual([20, 30, 10]);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = trainTestSplit(ds, { seed: 1 });
    expect(trainTestSplit(ds, { seed: 1 })).toEqual(a);
    expect(trainTestSplit(ds, { seed: 2 }).test).not.toEqual(a.test);
  });

  it('rejects a fraction outside [0, 1)', () => {
    expect(() => trainTestSplit(ds, { testFraction: 1 })).toThrow(RangeError);
  });

  it('shuffled permutes deterministically', () => {
    const p = shuffled([1, 2, 3, 4, 5, 6], 3);
    expect([...p].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(shuffled([1, 2, 3, 4, 5, 6], 3)).toEqual(p);
  });
});

describe('normalization', () => {
  it('uses one mean and std per channel plane and round-trips', () => {
    // Two images of two channels of two pixels.
    const bytes = Uint8Array.from([0, 255, 0, 255, 51, 102, 51, 102]);
    const norm = { mean: [0.5, 0], std: [0.5, 2] };
    const out = normalizeBytes(bytes, 2, 2, norm);
    expect(Array.from(out)).toEqual([-1, 1, 0, 0.5, -0.6, -0.2, 0.1, 0.2].map(Math.fround));
    const back = denormalize(out, 2, 2, norm);
    back.forEach((v, i) => {
      expect(v).toBeCloseTo(bytes[i] / 255, 6);
    });
  });

  it('rejects a zero std or a channel count mismatch', () => {
    expect(() => normalizeBytes(new Uint8Array(4), 1, 4, { mean: [0], std: [0] })).toThrow(RangeError);
    expect(() => normalizeBytes(new Uint8Array(4), 2, 2, { mean: [0], std: [1] })).toThrow(RangeError);
  });
});
