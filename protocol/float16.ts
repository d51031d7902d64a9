// IEEE 754 binary16 <-> binary32 conversion for the fp16 wire encoding.
// Float16Array and Math.f16round are too new to rely on in every runtime the
// protocol runs in (workerd, older browsers, Node 22), so the conversion works
// on bit patterns.
//
// float32 -> float16 rounds to nearest, ties to even, produces subnormals,
// overflows to infinity (|x| >= 65520) and maps NaN to the quiet NaN 0x7E00
// with the sign kept. float16 -> float32 is exact.

/** Largest finite float16, 65504. */
export const FLOAT16_MAX = 65504;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float16 bits nearest to the float32 with bit pattern `x` (ties to even). */
function halfFromFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  // 65520 is halfway between 65504 (odd mantissa) and 65536: the tie goes to
  // the even side, which is already infinity.
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {
    // Normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits. A
    // carry out of the mantissa correctly bumps the exponent.
    let h = (abs >>> 13) - 0x1c000;
    const rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  // At or below 2^-25, half of the smallest subnormal: the tie goes to 0.
  if (abs <= 0x33000000) return sign;
  // Subnormal: count in units of 2^-24. The exponent is 102..112 here, so the
  // shift is 14..24; rounding up from 0x3FF yields 0x400, the smallest normal.
  const shift = 126 - (abs >>> 23);
  const mant = (abs & 0x7fffff) | 0x800000;
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

function floatBitsFromHalf(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise, since every float16 subnormal is a float32 normal.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

// A 256 KiB table makes decoding a single lookup per element; built on first
// use so that code paths that never see fp16 do not pay for it.
let halfTable: Uint32Array | undefined;
function table(): Uint32Array {
  if (halfTable === undefined) {
    halfTable = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = floatBitsFromHalf(h);
  }
  return halfTable;
}

/** float16 bit pattern nearest to `x`. `x` is first rounded to float32 (as it is on the wire). */
export function float32ToFloat16Bits(x: number): number {
  scratchF32[0] = x;
  return halfFromFloatBits(scratchU32[0]);
}

/** The value of the float16 bit pattern `h` (low 16 bits used). */
export function float16BitsToFloat32(h: number): number {
  scratchU32[0] = table()[h & 0xffff];
  return scratchF32[0];
}

/** Converts every element of `src` to float16 bits, into `dst` (allocated if omitted). */
export function float32ToFloat16Array(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const n = src.length;
  const out = dst ?? new Uint16Array(n);
  if (out.length < n) throw new RangeError(`destination holds ${out.length} elements, need ${n}`);
  // A Float32Array's byteOffset is always a multiple of 4, so the bit view is legal.
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) out[i] = halfFromFloatBits(bits[i]);
  return out;
}

/** Converts float16 bit patterns to float32 values, into `dst` (allocated if omitted). */
export function float16ToFloat32Array(src: Uint16Array, dst?: Float32Array): Float32Array {
  const n = src.length;
  const out = dst ?? new Float32Array(n);
  if (out.length < n) throw new RangeError(`destination holds ${out.length} elements, need ${n}`);
  const t = table();
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) bits[i] = t[src[i]];
  return out;
}
