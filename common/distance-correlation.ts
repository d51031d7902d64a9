// Squared distance correlation between a batch's inputs and their activations
// (Székely et al. 2007), and its gradient with respect to the activations:
// the penalty NoPeek (Vepakomma et al. 2020) adds to the device's loss so the
// activation it sends says less about the raw input. Squared, because dCor's
// own gradient is unbounded where it approaches 0.
//
// With a and b the batch's pairwise Euclidean distances, A and B their double
// centerings, and S = √(VX·VZ):
//   dCov² = Σ AᵢⱼBᵢⱼ / n²,  VX = Σ Aᵢⱼ² / n²,  VZ = Σ Bᵢⱼ² / n²,  dCor² = dCov² / S.
// Centering is an orthogonal projection, so Σ A B = Σ A b and ∂VZ/∂b = 2B/n²,
// which gives ∂dCor²/∂bᵢⱼ = Aᵢⱼ/(n²S) − dCor²·Bᵢⱼ/(n²VZ), and through
// ∂bᵢⱼ/∂zₖ the gradient below.

export interface DistanceCorrelation {
  /** dCor² in [0, 1]; 0 when either side has no spread. */
  value: number;
  /** ∂dCor²/∂z, the activations' layout. */
  gradient: Float32Array;
}

function distances(rows: ArrayLike<number>, n: number): Float64Array {
  const d = rows.length / n;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = rows[i * d + k] - rows[j * d + k];
        s += diff * diff;
      }
      out[i * n + j] = out[j * n + i] = Math.sqrt(s);
    }
  }
  return out;
}

function doubleCenter(m: Float64Array, n: number): Float64Array {
  const row = new Float64Array(n);
  let all = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) row[i] += m[i * n + j];
    all += row[i];
    row[i] /= n;
  }
  all /= n * n;
  // Distance matrices are symmetric: column means are the row means.
  return Float64Array.from(m, (v, idx) => v - row[Math.floor(idx / n)] - row[idx % n] + all);
}

export function distanceCorrelation(
  x: ArrayLike<number>,
  z: ArrayLike<number>,
  n: number,
): DistanceCorrelation {
  if (!Number.isInteger(n) || n < 2) throw new RangeError('distance correlation needs a batch of at least 2');
  if (x.length % n !== 0 || z.length % n !== 0) throw new RangeError('rows do not divide the batch evenly');
  const gradient = new Float32Array(z.length);
  const b = distances(z, n);
  const A = doubleCenter(distances(x, n), n);
  const B = doubleCenter(b, n);
  let cov = 0;
  let vx = 0;
  let vz = 0;
  for (let i = 0; i < n * n; i++) {
    cov += A[i] * B[i];
    vx += A[i] * A[i];
    vz += B[i] * B[i];
  }
  const nn = n * n;
  cov /= nn;
  vx /= nn;
  vz /= nn;
  const s = Math.sqrt(vx * vz);
  if (!(s > 0)) return { value: 0, gradient };
  const value = cov / s;
  const d = z.length / n;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const bkj = b[k * n + j];
      if (j === k || bkj === 0) continue;
      const g = A[k * n + j] / (nn * s) - (value * B[k * n + j]) / (nn * vz);
      const w = (2 * g) / bkj;
      for (let t = 0; t < d; t++) gradient[k * d + t] += w * (z[k * d + t] - z[j * d + t]);
    }
  }
  return { value, gradient };
}
