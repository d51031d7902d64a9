// Turning logits into ranked class probabilities on the device, so the Worker
// can answer with one compact logits frame whatever top-k the caller wants.

export interface Prediction {
  index: number;
  label?: string;
  /** Softmax probability of this class within its row. */
  score: number;
}

/**
 * Top-k classes of every row of `logits` (shape [..., classes]; rows are all
 * leading dims flattened), highest score first, ties to the lower index.
 */
export function topKPredictions(
  logits: Float32Array,
  shape: readonly number[],
  k: number,
  labels?: readonly string[],
): Prediction[][] {
  const classes = shape[shape.length - 1];
  if (!classes || logits.length % classes !== 0) {
    throw new RangeError(`logits of length ${logits.length} do not fit shape [${shape}]`);
  }
  const take = Math.max(0, Math.min(Math.floor(k), classes));
  const rows: Prediction[][] = [];
  const probs = new Float64Array(classes);
  const order = Array.from({ length: classes }, (_, i) => i);
  for (let start = 0; start < logits.length; start += classes) {
    softmaxInto(logits, start, classes, probs);
    // Ranking by logits, not probabilities: close logits can round to the same probability.
    order.sort((a, b) => logits[start + b] - logits[start + a] || a - b);
    rows.push(
      order.slice(0, take).map((index) => {
        const label = labels?.[index];
        return label === undefined ? { index, score: probs[index] } : { index, label, score: probs[index] };
      }),
    );
  }
  return rows;
}

/** Index of the largest logit per row. */
export function argmaxRows(logits: Float32Array, classes: number): Int32Array {
  const out = new Int32Array(logits.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

function softmaxInto(logits: Float32Array, start: number, n: number, out: Float64Array): void {
  // Subtracting the max keeps exp() from overflowing on large logits.
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[start + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp(logits[start + i] - max);
    sum += out[i];
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
}
