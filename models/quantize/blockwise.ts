// Symmetric integer quantization of weight tensors, the arithmetic only.
//
// Levels are symmetric around zero: int8 uses -127..127 and int4 -7..7, with
// scale = max|w| / 127 (or / 7) per group, so the largest weight of a group is
// represented exactly and no zero point is needed. int4's -8 is left unused:
// using it would need an asymmetric rule (the most negative weight gets -8)
// for one extra level that ONNX's symmetric DequantizeLinear gains little from.

export type WeightBits = 8 | 4;

/** Largest code magnitude per bit width. */
export const LEVELS: Readonly<Record<WeightBits, number>> = { 8: 127, 4: 7 };

export interface Codes {
  /** One code per weight, same layout as the input. */
  codes: Int8Array;
  /** float32 scales, layout documented per function. */
  scales: Float32Array;
}

// Round half away from zero, so quantization is symmetric under negation
// (Math.round alone rounds -2.5 to -2 but 2.5 to 3).
function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** The float32 scale of a group whose largest magnitude is `absMax`; 1 for an all-zero group. */
function scaleFor(absMax: number, levels: number): number {
  const s = Math.fround(absMax / levels);
  return s > 0 && Number.isFinite(s) ? s : 1;
}

function code(v: number, scale: number, levels: number): number {
  const q = roundHalfAway(v / scale);
  return Math.min(levels, Math.max(-levels, q));
}

/**
 * Quantizes a row-major [k, n] matrix in blocks of `blockSize` rows per
 * column: scale[b * n + j] covers rows b*blockSize .. min(k, (b+1)*blockSize)
 * of column j (the last block may be shorter). This is DequantizeLinear's
 * blocked layout with axis 0: scales are [ceil(k / blockSize), n].
 */
export function quantizeBlocked(
  w: Float32Array,
  k: number,
  n: number,
  bits: WeightBits,
  blockSize: number,
): Codes {
  if (w.length !== k * n) throw new Error(`quantize: ${w.length} values for [${k}, ${n}]`);
  const levels = LEVELS[bits];
  const blocks = Math.ceil(k / blockSize);
  const codes = new Int8Array(k * n);
  const scales = new Float32Array(blocks * n);
  for (let b = 0; b < blocks; b++) {
    const r0 = b * blockSize;
    const r1 = Math.min(k, r0 + blockSize);
    for (let j = 0; j < n; j++) {
      let absMax = 0;
      for (let r = r0; r < r1; r++) absMax = Math.max(absMax, Math.abs(w[r * n + j]));
      const s = scaleFor(absMax, levels);
      scales[b * n + j] = s;
      for (let r = r0; r < r1; r++) codes[r * n + j] = code(w[r * n + j], s, levels);
    }
  }
  return { codes, scales };
}

/**
 * Quantizes a tensor whose first axis has `channels` entries with one scale per
 * entry (per output channel for a Conv weight [Cout, Cin, kh, kw]).
 */
export function quantizePerChannel(w: Float32Array, channels: number, bits: WeightBits): Codes {
  if (w.length % channels !== 0) throw new Error(`quantize: ${w.length} values for ${channels} channels`);
  const levels = LEVELS[bits];
  const size = w.length / channels;
  const codes = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let absMax = 0;
    for (let i = c * size; i < (c + 1) * size; i++) absMax = Math.max(absMax, Math.abs(w[i]));
    const s = scaleFor(absMax, levels);
    scales[c] = s;
    for (let i = c * size; i < (c + 1) * size; i++) codes[i] = code(w[i], s, levels);
  }
  return { codes, scales };
}

/** Row-major transpose of an [rows, cols] matrix. */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}
