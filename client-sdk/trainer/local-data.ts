// The device's examples in training order: a seeded shuffle per (round, epoch)
// so runs are reproducible and epochs differ, and batches gathered into the
// contiguous NCHW buffers the head graphs take.
import { mulberry32, shuffle } from '../../common/random.js';
import { InputError } from '../errors.js';
import type { LocalDataset } from './types.js';

/** Values per example; checks the dataset against the model's per-example input size. */
export function checkDataset(dataset: LocalDataset, perExample: number, classes: number | undefined): void {
  const { size, pixels, labels } = dataset;
  if (!Number.isInteger(size) || size < 1)
    throw new InputError(`dataset size ${size} must be a positive integer`);
  if (!(pixels instanceof Float32Array)) throw new InputError('dataset.pixels must be a Float32Array');
  if (pixels.length !== size * perExample) {
    throw new InputError(
      `dataset.pixels holds ${pixels.length} values; ${size} examples need ${size * perExample}`,
    );
  }
  if (labels.length !== size)
    throw new InputError(`dataset has ${labels.length} labels for ${size} examples`);
  for (let i = 0; i < size; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || (classes !== undefined && y >= classes)) {
      throw new InputError(`label ${i} is ${y}; must be a class index below ${classes ?? 'the class count'}`);
    }
  }
}

/** Mixes the trainer seed with the round and epoch (murmur3 finalizer) so every epoch draws its own order. */
export function epochSeed(seed: number, round: number, epoch: number): number {
  let h = (seed ^ Math.imul(round + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A permutation of 0..size-1 for this (seed, round, epoch). */
export function epochOrder(size: number, seed: number, round: number, epoch: number): Int32Array {
  const order = Array.from({ length: size }, (_, i) => i);
  return Int32Array.from(shuffle(order, mulberry32(epochSeed(seed, round, epoch))));
}

export interface LocalBatch {
  /** Dataset indices of the rows. */
  indices: Int32Array;
  pixels: Float32Array;
  labels: Int32Array;
}

/** The epoch's batches of at most `batchSize` in `order` (the last one may be shorter). */
export function* epochBatches(
  dataset: LocalDataset,
  order: Int32Array,
  batchSize: number,
  perExample: number,
): Generator<LocalBatch> {
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.subarray(start, Math.min(order.length, start + batchSize));
    const pixels = new Float32Array(indices.length * perExample);
    const labels = new Int32Array(indices.length);
    indices.forEach((i, k) => {
      pixels.set(dataset.pixels.subarray(i * perExample, (i + 1) * perExample), k * perExample);
      labels[k] = dataset.labels[i];
    });
    yield { indices, pixels, labels };
  }
}
