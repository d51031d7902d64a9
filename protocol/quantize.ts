// Symmetric linear quantization of float32 activations to signed 8, 4 or 2 bit
// codes, the scales the codes are read with, and the bit packing of the codes
// on the wire.
//
// Levels. A group of values shares one scale s and each value x becomes an
// integer code q in [-qmax, qmax], qmax = 2^(bits-1) - 1: int8 -> ±127,
// int4 -> ±7, int2 -> ±1 (ternary: -s, 0, +s). The most negative two's
// complement code (-128, -8, -2) is never produced: a symmetric grid keeps
// zero exact and treats x and -x alike. Dequantized value = q * s.
//
// A lone scale (one per tensor, or the reference of the token scales below)
// travels as a bfloat16, the top half of a float32: unlike float16 it has the
// full float32 exponent range, so the tiny scales of late-training gradients
// neither underflow nor need a special case. s = maxabs / qmax rounded *up* to
// the next bfloat16, so that |x| / s <= qmax and clamping only ever absorbs
// floating-point fuzz; the encoder quantizes with that same value, so the
// decoder reproduces exactly the grid the codes were chosen on. An all-zero
// group gets s = 1 (zero codes decode to exact zeros; the decoder rejects
// zero scales). Scales are capped at BFLOAT16_MAX / 2^(bits-1), the largest
// bfloat16 for which even the unused code -2^(bits-1) dequantizes to a finite
// float32; groups whose maxabs exceeds qmax times that cap (>= 1.69e38)
// saturate.
//
// Token scales are two-level, as in microscaling formats: the tensor's
// largest token scale R (a bfloat16, as above) and one byte per token, c, for
// s = R · 2^(-c/16), c in 0..255 (so down to R · 2^-15.9). c is the largest
// code whose s is still >= the token's maxabs / qmax, so nothing clips here
// either and s overshoots the ideal by less than 2^(1/16) (4.4%). Why: with a
// 64-wide token, int4 codes take 32 bytes and a bfloat16 scale would add 2
// (6.25%); one byte halves that, at any width. s is the float32 nearest
// R · 2^-(c>>4) · 2^-((c&15)/16), the fractional powers written out below as
// float64 literals, so every engine derives the same scale from the same byte.
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

/** Largest finite bfloat16 (bits 0x7F7F), (2 - 2^-7) · 2^127. */
export const BFLOAT16_MAX = (2 - 2 ** -7) * 2 ** 127;

/** Bit widths that are quantized (fp32 and fp16 are not). */
export type CodeBits = 8 | 4 | 2;

/** Largest code magnitude: 2^(bits-1) - 1. */
export function qmaxOf(bits: CodeBits): number {
  return 2 ** (bits - 1) - 1;
}

/**
 * Largest scale a decoder accepts for `bits`. Dividing a bfloat16 by a power
 * of two is exact, so this is itself a bfloat16, and the next bfloat16 up
 * times 2^(bits-1) is 2^128, which overflows float32.
 */
export function maxScale(bits: CodeBits): number {
  return BFLOAT16_MAX / 2 ** (bits - 1);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The bfloat16 bit pattern of `s`, which must be a bfloat16 value (the low half is dropped). */
export function bfloat16Bits(s: number): number {
  scratchF32[0] = s;
  return scratchU32[0] >>> 16;
}

/** The value of the bfloat16 bit pattern `h` (0..0xFFFF); exact. */
export function bfloat16Value(h: number): number {
  scratchU32[0] = h << 16;
  return scratchF32[0];
}

/** Whether `s` is exactly a bfloat16 value (the infinities count; NaN does not). */
export function isBfloat16(s: number): boolean {
  scratchF32[0] = s;
  return scratchF32[0] === s && (scratchU32[0] & 0xffff) === 0;
}

/** Whether a decoder accepts `s`: a finite, positive bfloat16 with which no code can overflow. */
export function isValidScale(s: number, bits: CodeBits): boolean {
  // NaN fails the first comparison and +Infinity the second.
  return s > 0 && s <= maxScale(bits) && isBfloat16(s);
}

/** The bfloat16 scale for a group whose largest magnitude is `maxAbs` (finite, >= 0). */
export function scaleFor(maxAbs: number, bits: CodeBits): number {
  if (maxAbs === 0) return 1;
  const ideal = maxAbs / qmaxOf(bits);
  const cap = maxScale(bits);
  // The cap is a bfloat16, so rounding anything below it up stays <= cap.
  if (ideal >= cap) return cap;
  scratchF32[0] = ideal;
  // Round up to a float32 first (one ulp up when the conversion went down;
  // from 0 this gives the smallest subnormal, so tiny groups still get a
  // positive scale), then up to a bfloat16 by carrying any nonzero low half
  // into the top half. Both roundings are upward and every bfloat16 is a
  // float32, so the result is the least bfloat16 >= ideal.
  if (scratchF32[0] < ideal) scratchU32[0]++;
  scratchU32[0] = (scratchU32[0] + 0xffff) & 0xffff0000;
  return scratchF32[0];
}

/** Steps per octave of the token scale code. */
export const TOKEN_SCALE_STEPS = 16;
/** Largest token scale code: s = R · 2^(-255/16). */
export const MAX_TOKEN_SCALE_CODE = 255;

// 2^(-k/16), k = 0..15, correctly rounded float64 (see the module comment).
const FRACTIONAL_POWERS = [
  1.0,
  0.9576032806985737,
  0.9170040432046712,
  0.8781260801866497,
  0.8408964152537145,
  0.8052451659746271,
  0.7711054127039704,
  0.7384130729697497,
  Math.SQRT1_2,
  0.6771277734684463,
  0.6484197773255048,
  0.620928906036742,
  0.5946035575013605,
  0.5693943173783458,
  0.5452538663326288,
  0.5221368912137069,
];
// Multiplying by a power of two is exact, so every factor is exactly
// 2^-(c>>4) times its fractional power.
const TOKEN_FACTORS = Float64Array.from(
  { length: MAX_TOKEN_SCALE_CODE + 1 },
  (_, c) => FRACTIONAL_POWERS[c & 15] / 2 ** (c >> 4),
);

/** The scale that token scale code `c` (0..255) stands for under reference `reference`. */
export function tokenScale(reference: number, c: number): number {
  return Math.fround(reference * TOKEN_FACTORS[c]);
}

/** The largest code whose token scale is >= ideal (> 0); 0 when even the reference is not. */
export function tokenScaleCode(reference: number, ideal: number): number {
  if (!(ideal < reference)) return 0;
  // The logarithm gives the code to within one; the two loops settle it on
  // the float32 values the decoder will compute.
  let c = Math.min(MAX_TOKEN_SCALE_CODE, Math.floor(TOKEN_SCALE_STEPS * Math.log2(reference / ideal)));
  while (c > 0 && tokenScale(reference, c) < ideal) c--;
  while (c < MAX_TOKEN_SCALE_CODE && tokenScale(reference, c + 1) >= ideal) c++;
  return c;
}

/**
 * Largest magnitude of each consecutive group of `groupSize` elements
 * (data.length must be a multiple of groupSize), written to `out`.
 * Returns -1, or the index of the first non-finite value, in which case `out`
 * is partial: the caller decides what kind of error that is.
 */
export function groupMaxAbs(data: Float32Array, groupSize: number, out: Float64Array): number {
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
    out[g] = maxAbs;
  }
  return -1;
}

/**
 * Two-level scales for groups with these largest magnitudes: the bfloat16
 * reference, each group's one-byte code, and the scale each code stands for.
 */
export function tokenScales(
  maxAbs: Float64Array,
  bits: CodeBits,
): { reference: number; codes: Uint8Array; scales: Float32Array } {
  let top = 0;
  for (let g = 0; g < maxAbs.length; g++) if (maxAbs[g] > top) top = maxAbs[g];
  const reference = scaleFor(top, bits);
  const qmax = qmaxOf(bits);
  const codes = new Uint8Array(maxAbs.length);
  const scales = new Float32Array(maxAbs.length);
  for (let g = 0; g < maxAbs.length; g++) {
    // An all-zero group quantizes to zero codes on any grid: give it the reference.
    const c = maxAbs[g] === 0 ? 0 : tokenScaleCode(reference, maxAbs[g] / qmax);
    codes[g] = c;
    scales[g] = tokenScale(reference, c);
  }
  return { reference, codes, scales };
}

/**
 * Quantizes `data` in consecutive groups of `groupSize` elements on the given
 * scales (one per group, each >= its group's maxAbs / qmax unless capped),
 * writing one code per element to `codes`.
 */
export function quantizeGroups(
  data: Float32Array,
  groupSize: number,
  maxAbs: Float64Array,
  scales: Float32Array,
  bits: CodeBits,
  rounding: Rounding,
  random: () => number,
  codes: Int8Array,
): void {
  const qmax = qmaxOf(bits);
  const n = data.length;
  for (let g = 0, start = 0; start < n; g++, start += groupSize) {
    const end = start + groupSize;
    const s = scales[g];
    const inv = 1 / s;
    // The loops avoid data-dependent branches: signs are random, so a branch
    // on them would mispredict half the time and dominate the cost.
    if (rounding === 'nearest') {
      if (maxAbs[g] <= qmax * s) {
        // No clamp needed: |x| <= maxAbs <= qmax·s, so |x|·inv <= qmax·(1 + 2^-51)
        // < qmax + 0.5 and rounding gives at most qmax anyway, exactly what a
        // clamp would give. (qmax·s is exact: 7 by 24 significant bits.)
        for (let i = start; i < end; i++) {
          const v = data[i] * inv;
          // Storing into an Int8Array truncates toward zero, so adding ±0.5
          // (+(v < 0) is 0 or 1, no branch) rounds half away from zero;
          // 0.5 - 1 is exact, so this is bit-for-bit v ± 0.5.
          codes[i] = v + (0.5 - +(v < 0));
        }
      } else {
        // Values beyond qmax·s: the scale hit the cap (or maxAbs / qmax
        // rounded down onto the scale grid, where the clamp only absorbs fuzz).
        for (let i = start; i < end; i++) {
          const v = Math.min(Math.max(data[i] * inv, -qmax), qmax);
          codes[i] = v + (0.5 - +(v < 0));
        }
      }
    } else {
      // Always clamped: x/s + u can reach qmax + 1 (or fall below -qmax) by fuzz alone.
      for (let i = start; i < end; i++) {
        codes[i] = Math.min(Math.max(Math.floor(data[i] * inv + random()), -qmax), qmax);
      }
    }
  }
}

/** What both quantizers take: consecutive groups of `groupSize` elements of `data`. */
export interface Quantization {
  data: Float32Array;
  /** data.length must be a multiple of it. */
  groupSize: number;
  bits: CodeBits;
  rounding: Rounding;
  /** Uniform [0, 1) source, read only by stochastic rounding. */
  random: () => number;
  /** Receives one code per element. */
  codes: Int8Array;
}

/**
 * Quantizes with one bfloat16 scale per group (a per-tensor frame's one
 * group), written to `scales`. Returns -1, or the index of the first
 * non-finite value, in which case the outputs are partial: the caller decides
 * what kind of error that is.
 */
export function quantize(q: Quantization, scales: Float32Array): number {
  const maxAbs = new Float64Array(scales.length);
  const bad = groupMaxAbs(q.data, q.groupSize, maxAbs);
  if (bad >= 0) return bad;
  for (let g = 0; g < maxAbs.length; g++) scales[g] = scaleFor(maxAbs[g], q.bits);
  quantizeGroups(q.data, q.groupSize, maxAbs, scales, q.bits, q.rounding, q.random, q.codes);
  return -1;
}

/**
 * Quantizes each group (token) on two-level scales (see the module comment)
 * and returns the bfloat16 reference and one scale code per token. `bad` is
 * -1, or the index of the first non-finite value, in which case nothing else
 * is meaningful.
 */
export function quantizeTokens(q: Quantization): { bad: number; reference: number; scaleCodes: Uint8Array } {
  const maxAbs = new Float64Array(q.data.length / q.groupSize);
  const bad = groupMaxAbs(q.data, q.groupSize, maxAbs);
  if (bad >= 0) return { bad, reference: 0, scaleCodes: new Uint8Array(0) };
  const token = tokenScales(maxAbs, q.bits);
  quantizeGroups(q.data, q.groupSize, maxAbs, token.scales, q.bits, q.rounding, q.random, q.codes);
  return { bad: -1, reference: token.reference, scaleCodes: token.codes };
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
