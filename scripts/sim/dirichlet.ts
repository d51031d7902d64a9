// Non-IID client data as in the SFLAM reference code (and FedML before it):
// for every class, proportions over the clients are drawn from a symmetric
// Dirichlet(alpha), and the class's examples are dealt out in those
// proportions. Small alpha gives each client a few dominant classes; large
// alpha approaches an even (IID) split.
import { gaussian, mulberry32, shuffle } from '../../common/random.js';

export interface PartitionOptions {
  clients: number;
  /** Dirichlet concentration, > 0. */
  alpha: number;
  seed: number;
  /**
   * Every client ends with at least this many examples (default 1, capped at
   * total / clients). Draws that leave a client short are redrawn, as FedML
   * does with its min_require_size; after `maxDraws` the last draw is patched
   * by moving examples from the largest clients, so the guarantee always holds.
   */
  minPerClient?: number;
  maxDraws?: number;
}

/**
 * Splits `indices` (with `labels[index]` their classes) into one shuffled
 * index list per client. Every index goes to exactly one client.
 */
export function dirichletPartition(
  indices: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  options: PartitionOptions,
): Int32Array[] {
  const { clients, alpha, seed } = options;
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`clients ${clients} must be >= 1`);
  if (!(alpha > 0) || !Number.isFinite(alpha))
    throw new RangeError(`alpha ${alpha} must be a finite number > 0`);
  if (indices.length < clients) {
    throw new RangeError(`${indices.length} examples cannot give each of ${clients} clients one`);
  }
  const minPer = Math.min(options.minPerClient ?? 1, Math.floor(indices.length / clients));
  const maxDraws = options.maxDraws ?? 100;
  const random = mulberry32(seed);
  const byClass = groupByClass(indices, labels, classes);

  let parts: number[][] = [];
  for (let draw = 0; draw < maxDraws; draw++) {
    parts = drawOnce(byClass, clients, alpha, random);
    if (parts.every((p) => p.length >= minPer)) break;
  }
  topUp(parts, minPer);
  return parts.map((p) => Int32Array.from(shuffle(p, random)));
}

function groupByClass(indices: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number[][] {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new RangeError(`example ${i} has label ${y}`);
    byClass[y].push(i);
  }
  return byClass;
}

function drawOnce(byClass: number[][], clients: number, alpha: number, random: () => number): number[][] {
  const parts: number[][] = Array.from({ length: clients }, () => []);
  const normal = gaussian(random);
  for (const members of byClass) {
    const pool = shuffle([...members], random);
    const p = dirichlet(clients, alpha, random, normal);
    // Cut points from the cumulative proportions: the counts sum to the class size exactly.
    let cumulative = 0;
    let start = 0;
    for (let c = 0; c < clients; c++) {
      cumulative += p[c];
      const end = c === clients - 1 ? pool.length : Math.round(cumulative * pool.length);
      for (let k = start; k < end; k++) parts[c].push(pool[k]);
      start = Math.max(start, end);
    }
  }
  return parts;
}

/** Moves examples from the largest clients to those below `minPer`. */
function topUp(parts: number[][], minPer: number): void {
  for (const part of parts) {
    while (part.length < minPer) {
      let largest = parts[0];
      for (const p of parts) if (p.length > largest.length) largest = p;
      part.push(largest.pop()!);
    }
  }
}

/** A symmetric Dirichlet(alpha) sample of dimension n: normalized Gamma(alpha, 1) draws. */
export function dirichlet(
  n: number,
  alpha: number,
  random: () => number,
  normal: () => number = gaussian(random),
): Float64Array {
  const g = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    g[i] = gammaSample(alpha, random, normal);
    sum += g[i];
  }
  // All draws underflowing to 0 (tiny alpha) would divide by zero: give everything to one client.
  if (sum === 0) {
    g[Math.floor(random() * n)] = 1;
    return g;
  }
  for (let i = 0; i < n; i++) g[i] /= sum;
  return g;
}

/** Gamma(shape, 1) by Marsaglia and Tsang; shape < 1 through the boost Gamma(shape + 1) · U^(1/shape). */
export function gammaSample(shape: number, random: () => number, normal: () => number): number {
  if (shape < 1) {
    let u = random();
    while (u === 0) u = random();
    return gammaSample(shape + 1, random, normal) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * How far client label distributions are from the overall one: the mean over
 * clients of the total-variation distance (0 = every client IID, 1 = disjoint).
 */
export function labelSkew(
  parts: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classes: number,
): number {
  const overall = new Float64Array(classes);
  let total = 0;
  const perClient = parts.map((part) => {
    const counts = new Float64Array(classes);
    for (let k = 0; k < part.length; k++) counts[labels[part[k]]]++;
    for (let y = 0; y < classes; y++) overall[y] += counts[y];
    total += part.length;
    return counts;
  });
  let skew = 0;
  for (let c = 0; c < parts.length; c++) {
    const n = parts[c].length;
    if (n === 0) continue;
    let tv = 0;
    for (let y = 0; y < classes; y++) tv += Math.abs(perClient[c][y] / n - overall[y] / total);
    skew += tv / 2;
  }
  return skew / parts.length;
}
