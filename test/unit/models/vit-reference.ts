// An independent, loop-by-loop forward pass of the builder's ViT in plain
// TypeScript (float64), to check that the ONNX graph computes what it claims.
import type { HostTensor } from '../../../models/onnx/tensor.js';
import type { VitConfig } from '../../../models/vit/config.js';

type Weights = Map<string, HostTensor>;
type Mat = Float64Array[]; // rows

function w(weights: Weights, name: string): Float32Array {
  const t = weights.get(name);
  if (t?.dtype !== 'float32') throw new Error(`missing float initializer ${name}`);
  return t.data;
}

/** erf by its Maclaurin series; beyond |x| = 4 it equals ±1 to float32 precision. */
function erf(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let sum = x;
  let term = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function linear(x: Mat, weight: Float32Array, bias: Float32Array, outDim: number): Mat {
  const inDim = x[0].length;
  return x.map((row) => {
    const out = new Float64Array(outDim);
    for (let j = 0; j < outDim; j++) {
      let s = bias[j];
      for (let i = 0; i < inDim; i++) s += row[i] * weight[i * outDim + j];
      out[j] = s;
    }
    return out;
  });
}

function layerNorm(x: Mat, scale: Float32Array, bias: Float32Array, eps = 1e-6): Mat {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * scale[i] + bias[i]);
  });
}

const add = (a: Mat, b: Mat): Mat => a.map((row, i) => row.map((v, j) => v + b[i][j]));

function attention(x: Mat, weights: Weights, p: string, c: VitConfig): Mat {
  const D = c.width;
  const q = linear(x, w(weights, `${p}.attn.q.weight`), w(weights, `${p}.attn.q.bias`), D);
  const k = linear(x, w(weights, `${p}.attn.k.weight`), w(weights, `${p}.attn.k.bias`), D);
  const v = linear(x, w(weights, `${p}.attn.v.weight`), w(weights, `${p}.attn.v.bias`), D);
  const dh = D / c.heads;
  const T = x.length;
  const out: Mat = x.map(() => new Float64Array(D));
  for (let h = 0; h < c.heads; h++) {
    for (let i = 0; i < T; i++) {
      const scores = new Float64Array(T);
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let d = 0; d < dh; d++) s += q[i][h * dh + d] * k[j][h * dh + d];
        scores[j] = s / Math.sqrt(dh);
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; j++)
        for (let d = 0; d < dh; d++) out[i][h * dh + d] += (e[j] / z) * v[j][h * dh + d];
    }
  }
  return linear(out, w(weights, `${p}.attn.proj.weight`), w(weights, `${p}.attn.proj.bias`), D);
}

/** Logits for one image [C, H, W] (flattened). */
export function referenceForward(image: Float32Array, weights: Weights, c: VitConfig): Float64Array {
  const P = c.patchSize;
  const grid = c.imageSize / P;
  const D = c.width;
  const convW = w(weights, 'embed.patch.weight');
  const convB = w(weights, 'embed.patch.bias');
  const cls = w(weights, 'embed.cls_token');
  const pos = w(weights, 'embed.pos');
  let x: Mat = [Float64Array.from(cls)];
  for (let py = 0; py < grid; py++) {
    for (let px = 0; px < grid; px++) {
      const tok = new Float64Array(D);
      for (let d = 0; d < D; d++) {
        let s = convB[d];
        for (let ch = 0; ch < c.channels; ch++) {
          for (let ky = 0; ky < P; ky++) {
            for (let kx = 0; kx < P; kx++) {
              const pixel = image[(ch * c.imageSize + py * P + ky) * c.imageSize + px * P + kx];
              s += convW[((d * c.channels + ch) * P + ky) * P + kx] * pixel;
            }
          }
        }
        tok[d] = s;
      }
      x.push(tok);
    }
  }
  x = x.map((row, t) => row.map((v, d) => v + pos[t * D + d]));
  for (let b = 0; b < c.depth; b++) {
    const p = `blocks.${b}`;
    x = add(
      x,
      attention(layerNorm(x, w(weights, `${p}.norm1.weight`), w(weights, `${p}.norm1.bias`)), weights, p, c),
    );
    const h = layerNorm(x, w(weights, `${p}.norm2.weight`), w(weights, `${p}.norm2.bias`));
    const hidden = D * c.mlpRatio;
    const a = linear(h, w(weights, `${p}.mlp.fc1.weight`), w(weights, `${p}.mlp.fc1.bias`), hidden).map(
      (row) => row.map((v) => v * 0.5 * (1 + erf(v / Math.SQRT2))),
    );
    x = add(x, linear(a, w(weights, `${p}.mlp.fc2.weight`), w(weights, `${p}.mlp.fc2.bias`), D));
  }
  const normed = layerNorm(x, w(weights, 'norm.weight'), w(weights, 'norm.bias'));
  return linear([normed[0]], w(weights, 'head.weight'), w(weights, 'head.bias'), c.classes)[0];
}
