/** One ranked class for one sample. */
export interface Prediction {
  index: number;
  label?: string;
  score: number;
}

/**
 * Softmax top-k per row of a [rows, classes] logits matrix. Used by the Worker
 * (JSON answers) and the SDK (frame answers) so both rank identically.
 */
export function topK(logits: Float32Array, rows: number, k: number, labels?: readonly string[]): Prediction[][] {
  const classes = logits.length / rows;
  const out: Prediction[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    let max = Number.NEGATIVE_INFINITY;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const ranked = Array.from(row, (v, index) => ({ index, score: Math.exp(v - max) / sum }));
    ranked.sort((a, b) => b.score - a.score || a.index - b.index);
    out.push(
      ranked.slice(0, Math.min(k, classes)).map((p) => (labels ? { ...p, label: labels[p.index] } : p)),
    );
  }
  return out;
}

/** Index of the largest logit per row. */
export function argmax(logits: Float32Array, rows: number): Int32Array {
  const classes = logits.length / rows;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[r * classes + j] > logits[r * classes + best]) best = j;
    out[r] = best;
  }
  return out;
}
