// The analytic inversion of an uplink, with what a curious server has: the
// public head, run as a black box. Where the head is affine up to the cut
// (a ViT's patch embedding: a linear map of the pixels plus position
// embeddings), the attacker recovers that map exactly by running the head on
// the zero image and on every unit image, then inverts each activation it
// receives by least squares: x = argmin ‖A·x + b − a‖². Where the head is
// not affine (deeper cuts), the probe says so and the attack does not apply.
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { mulberry32 } from '../../common/random.js';

/** The head as the attacker runs it: normalized pixels (n × inputSize) to the cut activation (n × cutSize). */
export type HeadFn = (pixels: Float32Array, n: number) => Promise<Float32Array>;

export interface AffineHead {
  /** cutSize × inputSize. */
  a: Matrix;
  /** The activation of the zero image. */
  b: Float64Array;
  inputSize: number;
  cutSize: number;
}

const PROBE_BATCH = 64;

/**
 * The head's affine map, probed on the zero image and each unit image (in
 * batches), or null when the head is not affine: its output on two random
 * images' sum must equal the sum of their maps within `tolerance` (relative).
 */
export async function probeAffine(
  head: HeadFn,
  inputSize: number,
  tolerance = 1e-3,
): Promise<AffineHead | null> {
  const zero = await head(new Float32Array(inputSize), 1);
  const cutSize = zero.length;
  const b = Float64Array.from(zero);
  const a = new Matrix(cutSize, inputSize);
  for (let from = 0; from < inputSize; from += PROBE_BATCH) {
    const n = Math.min(PROBE_BATCH, inputSize - from);
    const basis = new Float32Array(n * inputSize);
    for (let k = 0; k < n; k++) basis[k * inputSize + from + k] = 1;
    const out = await head(basis, n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < cutSize; j++) a.set(j, from + k, out[k * cutSize + j] - b[j]);
    }
  }
  // The affine check: H(x + y) − H(0) = (H(x) − H(0)) + (H(y) − H(0)).
  const random = mulberry32(12345);
  const x = Float32Array.from({ length: inputSize }, () => random() - 0.5);
  const y = Float32Array.from({ length: inputSize }, () => random() - 0.5);
  const both = new Float32Array(3 * inputSize);
  both.set(x, 0);
  both.set(y, inputSize);
  for (let i = 0; i < inputSize; i++) both[2 * inputSize + i] = x[i] + y[i];
  const out = await head(both, 3);
  let err = 0;
  let scale = 0;
  for (let j = 0; j < cutSize; j++) {
    const predicted = out[j] + out[cutSize + j] - 2 * b[j];
    const actual = out[2 * cutSize + j] - b[j];
    err = Math.max(err, Math.abs(predicted - actual));
    scale = Math.max(scale, Math.abs(actual));
  }
  return err <= tolerance * Math.max(1, scale) ? { a, b, inputSize, cutSize } : null;
}

export interface Inverter {
  /** Normalized pixels (n × inputSize) that best explain the activations (n × cutSize). */
  invert(activations: Float32Array, n: number): Float32Array;
}

/**
 * Least squares through the normal equations, factored once: (AᵀA + λI) x =
 * Aᵀ(a − b). λ is a tiny ridge (relative to AᵀA's diagonal) that only matters
 * when the map loses information.
 */
export function leastSquaresInverter(head: AffineHead, ridge = 1e-9): Inverter {
  const { a, b, inputSize, cutSize } = head;
  const at = a.transpose();
  const gram = at.mmul(a);
  let trace = 0;
  for (let i = 0; i < inputSize; i++) trace += gram.get(i, i);
  const lambda = (ridge * trace) / inputSize;
  for (let i = 0; i < inputSize; i++) gram.set(i, i, gram.get(i, i) + lambda);
  const factor = new CholeskyDecomposition(gram);
  if (!factor.isPositiveDefinite()) throw new Error('the probed map is singular even with the ridge');
  return {
    invert(activations, n) {
      const rhs = new Matrix(cutSize, n);
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < cutSize; j++) rhs.set(j, k, activations[k * cutSize + j] - b[j]);
      }
      const solved = factor.solve(at.mmul(rhs));
      const out = new Float32Array(n * inputSize);
      for (let k = 0; k < n; k++)
        for (let i = 0; i < inputSize; i++) out[k * inputSize + i] = solved.get(i, k);
      return out;
    },
  };
}
