// Deterministic, stratified train/test splits. The packages ship the data
// class-major and (for fashion-mnist) with the official train and test sets
// merged, so splits are drawn here from a seed, never from file order.
import { mulberry32, shuffle } from '../common/random.js';
import type { Dataset } from './types.js';

export interface SplitOptions {
  /** Share of each class that goes to the test set, in [0, 1). Default 0.2. */
  testFraction?: number;
  /** Default 0. The same seed and dataset always give the same split. */
  seed?: number;
}

export interface Split {
  /** Example indices, shuffled. */
  train: Int32Array;
  test: Int32Array;
}

/** Splits every class in the same proportion, so both sides keep the class balance. */
export function trainTestSplit(ds: Pick<Dataset, 'labels' | 'classes'>, options: SplitOptions = {}): Split {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction < 1))
    throw new RangeError(`testFraction ${testFraction} not in [0, 1)`);
  const random = mulberry32(options.seed ?? 0);
  const byClass: number[][] = ds.classes.map(() => []);
  ds.labels.forEach((label, i) => {
    const bucket = byClass[label];
    if (!bucket) throw new RangeError(`example ${i} has label ${label} outside ${ds.classes.length} classes`);
    bucket.push(i);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass) {
    shuffle(members, random);
    const nTest = Math.round(members.length * testFraction);
    for (let k = 0; k < members.length; k++) (k < nTest ? test : train).push(members[k]);
  }
  return { train: Int32Array.from(shuffle(train, random)), test: Int32Array.from(shuffle(test, random)) };
}

/** A seeded permutation of `indices`, e.g. one per epoch (seed = base + epoch). */
export function shuffled(indices: ArrayLike<number>, seed: number): Int32Array {
  return Int32Array.from(shuffle(Array.from(indices), mulberry32(seed)));
}
