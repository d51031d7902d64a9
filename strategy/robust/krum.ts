// Multi-Krum (Blanchard et al., 2017): each client is scored by the sum of its
// squared distances to its n − f − 2 nearest neighbours, f being the number
// of attackers tolerated; the m best-scored clients are kept and averaged.
// An attacker far from the honest cluster scores badly whatever it claims.
// Distances are summed over every trainable, tensor by tensor, so the whole
// round never has to sit in memory at once.

/** Accumulates pairwise squared distances over the tensors of n clients. */
export class PairwiseDistances {
  readonly #d: Float64Array;

  constructor(readonly n: number) {
    this.#d = new Float64Array(n * n);
  }

  /** Adds one tensor's contribution: deltas[c] is client c's delta of that tensor. */
  add(deltas: readonly Float32Array[]): void {
    const { n } = this;
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const x = deltas[a];
        const y = deltas[b];
        let s = 0;
        for (let i = 0; i < x.length; i++) {
          const t = x[i] - y[i];
          s += t * t;
        }
        this.#d[a * n + b] += s;
        this.#d[b * n + a] += s;
      }
    }
  }

  get(a: number, b: number): number {
    return this.#d[a * this.n + b];
  }
}

export interface KrumChoice {
  /** Indices of the kept clients, best score first. */
  kept: number[];
  scores: number[];
}

/**
 * The `keep` clients with the lowest Krum scores, tolerating `byzantine`
 * attackers. With fewer clients than Krum's bound (n > 2f + 2) the
 * neighbourhood shrinks to at least one, and the scores still rank outliers.
 */
export function multiKrum(distances: PairwiseDistances, byzantine: number, keep: number): KrumChoice {
  const { n } = distances;
  const neighbours = Math.max(1, n - byzantine - 2);
  const scores: number[] = [];
  for (let a = 0; a < n; a++) {
    const row: number[] = [];
    for (let b = 0; b < n; b++) if (b !== a) row.push(distances.get(a, b));
    row.sort((x, y) => x - y);
    scores.push(row.slice(0, Math.min(neighbours, row.length)).reduce((s, x) => s + x, 0));
  }
  const order = scores.map((_, i) => i).sort((x, y) => scores[x] - scores[y] || x - y);
  return { kept: order.slice(0, Math.max(1, Math.min(keep, n))), scores };
}
