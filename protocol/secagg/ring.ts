// The finite ring the masked sums live in: the integers modulo 2^48, held in
// float64. Every element and every sum of two is an integer below 2^53, so
// addition and subtraction stay exact without BigInt, and 48 bits leave 24
// fractional bits for the fixed-point values with room for the sum of up to
// 255 devices (the most Shamir shares a round can hand out) of magnitude
// below 2^15.

export const RING_BITS = 48;
export const MODULUS = 2 ** RING_BITS;
const HALF = MODULUS / 2;

export class RangeOverflow extends Error {
  readonly index: number;
  constructor(index: number, value: number, limit: number) {
    super(`value ${value} at ${index} is outside ±${limit}: the ring sum could wrap`);
    this.name = 'RangeOverflow';
    this.index = index;
  }
}

/** The largest |value| one of `members` devices may contribute so that the sum of all of them cannot wrap. */
export function contributionLimit(members: number, fractionalBits: number): number {
  return HALF / members / 2 ** fractionalBits;
}

/** Fixed-point encodes `values` (scaled by `fractionalBits`) into ring elements at `out[offset…]`. */
export function encodeFixed(
  values: ArrayLike<number>,
  fractionalBits: number,
  limit: number,
  out: Float64Array,
  offset = 0,
): void {
  const scale = 2 ** fractionalBits;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Math.abs(v) <= limit)) throw new RangeOverflow(offset + i, v, limit);
    const q = Math.round(v * scale);
    out[offset + i] = q < 0 ? q + MODULUS : q;
  }
}

/** Ring elements back to reals: the upper half of the ring is negative. */
export function decodeFixed(ring: Float64Array, fractionalBits: number): Float64Array {
  const scale = 2 ** -fractionalBits;
  return Float64Array.from(ring, (v) => (v >= HALF ? v - MODULUS : v) * scale);
}

/** acc += sign * x (mod 2^48), in place. */
export function addInto(acc: Float64Array, x: Float64Array, sign: 1 | -1 = 1): void {
  if (acc.length !== x.length) throw new RangeError(`lengths differ: ${acc.length} and ${x.length}`);
  for (let i = 0; i < acc.length; i++) {
    let v = sign === 1 ? acc[i] + x[i] : acc[i] - x[i];
    if (v >= MODULUS) v -= MODULUS;
    else if (v < 0) v += MODULUS;
    acc[i] = v;
  }
}

/** Whether every element is an integer in [0, 2^48): what a device's masked input must be. */
export function isRingVector(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!(v >= 0 && v < MODULUS && Number.isInteger(v))) return false;
  }
  return true;
}

/** 6 little-endian bytes per element: the wire and storage form of a ring vector. */
export function packRing(x: Float64Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(x.length * 6);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const lo = v % 2 ** 24;
    const hi = (v - lo) / 2 ** 24;
    const o = i * 6;
    out[o] = lo & 0xff;
    out[o + 1] = (lo >>> 8) & 0xff;
    out[o + 2] = lo >>> 16;
    out[o + 3] = hi & 0xff;
    out[o + 4] = (hi >>> 8) & 0xff;
    out[o + 5] = hi >>> 16;
  }
  return out;
}

export function unpackRing(bytes: Uint8Array): Float64Array {
  if (bytes.length % 6 !== 0) throw new RangeError(`${bytes.length} bytes is not a whole number of elements`);
  const out = new Float64Array(bytes.length / 6);
  for (let i = 0; i < out.length; i++) {
    const o = i * 6;
    const lo = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16);
    const hi = bytes[o + 3] | (bytes[o + 4] << 8) | (bytes[o + 5] << 16);
    out[i] = hi * 2 ** 24 + lo;
  }
  return out;
}
