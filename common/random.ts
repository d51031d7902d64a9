// Seeded pseudo-random numbers. Everything that must be reproducible (weight
// initialisation, data partitions, client selection, stochastic rounding in
// tests) draws from here instead of Math.random.

/** mulberry32: a small, fast 32-bit generator with a full 2^32 period. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box-Muller over a uniform source. */
export function gaussian(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** Fisher-Yates shuffle in place with a seeded source. */
export function shuffle<T>(items: T[], uniform: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * A [0, 1) source backed by crypto.getRandomValues (53 random bits a draw),
 * for randomness that must not be predictable: DP noise at the edge,
 * activation noise on devices.
 */
export function cryptoUniform(): () => number {
  const block = new Uint32Array(1024);
  let at = block.length;
  return () => {
    if (at + 2 > block.length) {
      crypto.getRandomValues(block);
      at = 0;
    }
    const hi = block[at++] >>> 5;
    const lo = block[at++] >>> 6;
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  };
}
