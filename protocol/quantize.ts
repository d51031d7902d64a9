// Symmetric linear quantization of float32 activations to signed 8, 4 or 2 bit
// codes, and the bit packing of those codes on the wire.
//
// Levels. A group of values shares one float32 scale s and each value x
// becomes an integer code q in [-qmax, qmax], qmax = 2^(bits-1) - 1:
// int8 -> ±127, int4 -> ±7, int2 -> ±1 (ternary: -s, 0, +s). The most negative
// two's complement code (-128, -8, -2) is never produced: a symmetric grid
// keeps zero exact and treats x and -x alike. Dequantized value = q * s.
//
// Scale. s = maxabs / qmax rounded *up* to the next float32, so that
// |x| / s <= qmax and clamping only ever absorbs floating-point fuzz. An
// all-zero group gets s = 1 (zero codes decode to exact zeros; the decoder
// rejects zero scales). Scales are capped at FLOAT32_MAX / 2^(bits-1), the
// largest scale the decoder accepts, so that even the unused code -2^(bits-1)
// dequantizes to a finite float32; groups whose maxabs exceeds
// FLOAT32_MAX * qmax / 2^(bits-1) (>= 1.7e38) therefore saturate.
//
// Rounding. 'nearest' rounds half away from zero (|error| <= s/2).
// 'stochastic' takes q = floor(x/s + u), u uniform in [0, 1): q is one of the
// two neighbouring levels and E[q * s] = x, which keeps gradient estimates
// unbiased (|error| < s).
//
// Packing. Codes are two's complement; int4 puts two per byte and int2 four,
// element 0 in the lowest bits; the last byte is zero-padded.

import type { Rounding } from './encoding.js';

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Bit widths that are quantized (fp32 and fp16 are not). */
export type CodeBits = 8 | 4 | 2;

/** Largest code magnitude: 2^(bits-1) - 1. */
export function qmaxOf(bits: CodeBits): number {
  return 2 ** (bits - 1) - 1;
}

/**
 * Largest scale a decoder accepts for `bits`. Dividing FLOAT32_MAX by a power
 * of two is exact, so this is itself a float32.
 */
export function maxScale(bits: CodeBits): number {
  return FLOAT32_MAX / 2 ** (bits - 1);
}

/** Whether a decoder accepts `s`: finite, positive, and no code can overflow. */
export function isValidScale(s: number, bits: CodeBits): boolean {
  // NaN fails the first comparison and +Infinity the second.
  return s > 0 && s <= maxScale(bits);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 scale for a group whose largest magnitude is `maxAbs` (finite, >= 0). */
export function scaleFor(maxAbs: number, bits: CodeBits): number {
  if (maxAbs === 0) return 1;
  const ideal = maxAbs / qmaxOf(bits);
  scratchF32[0] = ideal;
  // Step one float32 ulp up when rounding went down; from 0 this gives the
  // smallest subnormal, so tiny groups still get a positive scale.
  if (scratchF32[0] < ideal) scratchU32[0]++;
  const s = scratchF32[0];
  const cap = maxScale(bits);
  return Math.min(s, cap);
}

/**
 * Quantizes `data` in consecutive groups of `groupSize` elements (the last
 * group may not be shorter: data.length must be a multiple of groupSize).
 * Writes one code per element to `codes` and one scale per group to `scales`.
 *
 * Returns -1, or the index of the first non-finite value, in which case the
 * outputs are partial: the caller decides what kind of error that is.
 */
export function quantize(
  data: Float32Array,
  groupSize: number,
  bits: CodeBits,
  rounding: Rounding,
  random: () => number,
  codes: Int8Array,
  scales: Float32Array,
): number {
  const qmax = qmaxOf(bits);
  const n = data.length;
  for (let g = 0, start = 0; start < n; g++, start += groupSize) {
    const end = start + groupSize;
    let maxAbs = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(data[i]);
      // One comparison on the common path; NaN and Infinity land in the rare branch.
      if (!(a <= maxAbs)) {
        if (!(a <= FLOAT32_MAX)) return i;
        maxAbs = a;
      }
    }
    const s = scaleFor(maxAbs, bits);
    scales[g] = s;
    const inv = 1 / s;
    if (rounding === 'nearest') {
      for (let i = start; i < end; i++) {
        let v = data[i] * inv;
        if (v > qmax) v = qmax;
        else if (v < -qmax) v = -qmax;
        // Storing into an Int8Array truncates toward zero, so adding ±0.5
        // first rounds half away from zero.
        codes[i] = v < 0 ? v - 0.5 : v + 0.5;
      }
    } else {
      for (let i = start; i < end; i++) {
        let q = Math.floor(data[i] * inv + random());
        if (q > qmax) q = qmax;
        else if (q < -qmax) q = -qmax;
        codes[i] = q;
      }
    }
  }
  return -1;
}

/** out[i] = codes[i] * scale of i's group. Scales must already be validated. */
export function dequantize(
  codes: Int8Array,
  scales: Float32Array,
  groupSize: number,
  out: Float32Array,
): void {
  const n = codes.length;
  for (let g = 0, start = 0; start < n; g++, start += groupSize) {
    const s = scales[g];
    const end = start + groupSize;
    for (let i = start; i < end; i++) out[i] = codes[i] * s;
  }
}

/** Bytes that `count` codes of `bits` bits occupy once packed. */
export function packedLength(count: number, bits: CodeBits): number {
  return Math.ceil((count * bits) / 8);
}

/** Packs codes (each within the `bits`-bit two's complement range) into `dst`. */
export function packCodes(codes: Int8Array, bits: CodeBits, dst: Uint8Array): void {
  const n = codes.length;
  if (dst.length < packedLength(n, bits)) throw new RangeError('packCodes: destination too small');
  if (bits === 8) {
    dst.set(new Uint8Array(codes.buffer, codes.byteOffset, n));
    return;
  }
  if (bits === 4) {
    const pairs = n >>> 1;
    for (let j = 0; j < pairs; j++) dst[j] = (codes[2 * j] & 0xf) | ((codes[2 * j + 1] & 0xf) << 4);
    if (n & 1) dst[pairs] = codes[n - 1] & 0xf;
    return;
  }
  const quads = n >>> 2;
  for (let j = 0, i = 0; j < quads; j++, i += 4) {
    dst[j] =
      (codes[i] & 3) | ((codes[i + 1] & 3) << 2) | ((codes[i + 2] & 3) << 4) | ((codes[i + 3] & 3) << 6);
  }
  const rest = n & 3;
  if (rest !== 0) {
    let b = 0;
    for (let k = 0; k < rest; k++) b |= (codes[4 * quads + k] & 3) << (2 * k);
    dst[quads] = b;
  }
}

/**
 * Unpacks `count` codes from `src` into `dst`, sign-extending each. Padding
 * bits in the last byte are ignored (the frame CRC covers their integrity).
 */
export function unpackCodes(src: Uint8Array, bits: CodeBits, count: number, dst: Int8Array): void {
  if (src.length < packedLength(count, bits)) throw new RangeError('unpackCodes: source too small');
  if (dst.length < count) throw new RangeError('unpackCodes: destination too small');
  if (bits === 8) {
    dst.set(new Int8Array(src.buffer, src.byteOffset, count));
    return;
  }
  // Shifting the field to the top of a 32-bit int and arithmetic-shifting it
  // back down sign-extends it without a branch.
  if (bits === 4) {
    const pairs = count >>> 1;
    for (let j = 0; j < pairs; j++) {
      const b = src[j];
      dst[2 * j] = (b << 28) >> 28;
      dst[2 * j + 1] = (b << 24) >> 28;
    }
    if (count & 1) dst[count - 1] = (src[pairs] << 28) >> 28;
    return;
  }
  const quads = count >>> 2;
  for (let j = 0, i = 0; j < quads; j++, i += 4) {
    const b = src[j];
    dst[i] = (b << 30) >> 30;
    dst[i + 1] = (b << 28) >> 30;
    dst[i + 2] = (b << 26) >> 30;
    dst[i + 3] = (b << 24) >> 30;
  }
  const rest = count & 3;
  for (let k = 0; k < rest; k++) dst[4 * quads + k] = (src[quads] << (30 - 2 * k)) >> 30;
}
