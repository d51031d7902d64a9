// The binary tensor frame: how an activation or a gradient travels between a
// device and a Worker. One implementation, imported by both sides.
//
// Layout, all little-endian:
//   offset 0           magic "SFLF" (4 bytes)
//   4                  version u8 (= 2)
//   5                  encoding u8: 0 fp32, 1 fp16, 2 int8, 3 int4, 4 int2
//   6                  granularity u8: 0 tensor, 1 token (kept for fp32/fp16 too, unused there)
//   7                  rank u8, 1..8
//   8                  dims u32 × rank, each >= 1
//   8 + 4·rank         scales, S bytes (below)
//   8 + 4·rank + S     payload, ceil(numel · bits / 8) bytes
//   end - 4            CRC-32 (IEEE) u32 of every preceding byte
// The scales of the integer encodings (none for fp32/fp16, S = 0):
//   'tensor'  one bfloat16 scale, then 2 zero bytes                  S = 4
//   'token'   a bfloat16 reference scale R, then one u8 code per token
//             (a token is the last dimension: numel / lastDim of them),
//             zero bytes up to a multiple of 4                      S = 4·ceil((2 + tokens) / 4)
// so byteLength = 12 + 4·rank + S + ceil(numel · bits / 8). Token t's scale
// is R · 2^(-code_t / 16) (quantize.ts says why and how exactly). The padding
// keeps the payload at a multiple of 4, so a freshly allocated frame can be
// viewed as Float32Array / Uint16Array without copying; it must be zero.
// Version 1 (a bfloat16 per token) is no longer read: 'bad-version'.
// Codes are levels −q…q, q = 2^(bits−1) − 1 (int2 is ternary, −1…1). The
// two's complement pattern below −q (−128, −8, −2) is never written: a frame
// carrying it was not made by an encoder, and reading it would give a value
// past ±q·s, the range the scale promises. It is 'code-out-of-range'.
//
// Errors. Everything wrong with received bytes is a FrameError with a stable
// code. On the encoding side, a bad tensor (rank, dimensions, data length,
// element limit, a non-finite value, an fp16 overflow) is a FrameError too,
// with the code the decoder would use; a bad option value (unknown encoding,
// granularity or rounding, a `random` that is not a function, data that is
// not a Float32Array) is a programming error and throws TypeError. The
// encoder never returns a frame that decodeFrame with the same limits rejects.
//
// Typed arrays assume a little-endian host (every platform the project runs
// on); a big-endian host takes the slower DataView paths.

import { mulberry32 } from '../common/random.js';
import { crc32 } from './crc32.js';
import {
  BITS,
  ENCODINGS,
  type Encoding,
  GRANULARITIES,
  isEncoding,
  type Rounding,
  type ScaleGranularity,
} from './encoding.js';
import { float16ToFloat32Array, float32ToFloat16Array } from './float16.js';
import {
  bfloat16Bits,
  bfloat16Value,
  type CodeBits,
  dequantize,
  isValidScale,
  maxScale,
  packCodes,
  qmaxOf,
  quantize,
  quantizeTokens,
  tokenScale,
  unpackCodes,
} from './quantize.js';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface EncodeOptions {
  encoding: Encoding;
  /** Default 'token'. Ignored (but recorded) for fp32 and fp16. */
  granularity?: ScaleGranularity;
  /** Default 'nearest'. */
  rounding?: Rounding;
  /** Uniform [0, 1) source for stochastic rounding; default a mulberry32 seeded from Math.random. */
  random?: () => number;
  /** The encoder refuses tensors the decoder would refuse under these limits. */
  limits?: FrameLimits;
}

export interface FrameHeader {
  version: number;
  encoding: Encoding;
  granularity: ScaleGranularity;
  shape: number[];
  numel: number;
  /** Total frame size in bytes, CRC included. */
  byteLength: number;
}

export interface FrameLimits {
  /** Default 2^26. */
  maxElements?: number;
  /** Default 8, which is also the format's maximum. */
  maxRank?: number;
}

export type FrameErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'unknown-encoding'
  | 'unknown-granularity'
  | 'bad-rank'
  | 'bad-dimension'
  | 'too-large'
  | 'length-mismatch'
  | 'bad-crc'
  | 'bad-scale'
  | 'code-out-of-range'
  | 'non-finite';

export class FrameError extends Error {
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'FrameError';
    this.code = code;
  }
}

export const FRAME_VERSION = 2;
/** The format's hard maximum rank; FrameLimits.maxRank can only lower it. */
export const FRAME_MAX_RANK = 8;
export const DEFAULT_MAX_ELEMENTS = 2 ** 26;

const MAGIC = [0x53, 0x46, 0x4c, 0x46]; // "SFLF"
const FIXED_HEADER = 8;
const CRC_BYTES = 4;
const MAX_DIM = 0xffffffff;

// Wire codes are spelled out rather than derived from the order of ENCODINGS,
// so reordering that list can never silently change the format.
const ENCODING_CODE: Record<Encoding, number> = { fp32: 0, fp16: 1, int8: 2, int4: 3, int2: 4 };
const ENCODING_BY_CODE: readonly Encoding[] = ['fp32', 'fp16', 'int8', 'int4', 'int2'];
const GRANULARITY_CODE: Record<ScaleGranularity, number> = { tensor: 0, token: 1 };
const GRANULARITY_BY_CODE: readonly ScaleGranularity[] = ['tensor', 'token'];

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface Layout {
  numel: number;
  groupSize: number;
  nScales: number;
  scalesOffset: number;
  /** Scale bytes including the padding (S in the module comment). */
  scalesBytes: number;
  payloadOffset: number;
  payloadBytes: number;
  byteLength: number;
}

function layoutOf(
  rank: number,
  numel: number,
  lastDim: number,
  encoding: Encoding,
  granularity: ScaleGranularity,
): Layout {
  const bits = BITS[encoding];
  const quantized = bits < 16;
  const groupSize = granularity === 'tensor' ? numel : lastDim;
  const nScales = quantized ? numel / groupSize : 0;
  const scalesOffset = FIXED_HEADER + 4 * rank;
  // 'tensor': the scale and 2 bytes of padding; 'token': the reference and a byte per token.
  const scalesBytes = nScales === 0 ? 0 : granularity === 'tensor' ? 4 : 4 * Math.ceil((2 + nScales) / 4);
  const payloadOffset = scalesOffset + scalesBytes;
  const payloadBytes = Math.ceil((numel * bits) / 8);
  return {
    numel,
    groupSize,
    nScales,
    scalesOffset,
    scalesBytes,
    payloadOffset,
    payloadBytes,
    byteLength: payloadOffset + payloadBytes + CRC_BYTES,
  };
}

function resolveLimits(limits: FrameLimits | undefined): { maxElements: number; maxRank: number } {
  const maxElements = limits?.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const maxRank = Math.min(limits?.maxRank ?? FRAME_MAX_RANK, FRAME_MAX_RANK);
  if (!Number.isSafeInteger(maxElements) || maxElements < 1) {
    throw new RangeError(`FrameLimits.maxElements must be a positive integer, got ${maxElements}`);
  }
  if (!Number.isInteger(maxRank) || maxRank < 1) {
    throw new RangeError(`FrameLimits.maxRank must be a positive integer, got ${maxRank}`);
  }
  return { maxElements, maxRank };
}

/** Validates a caller's shape and returns its element count. */
function checkShape(shape: readonly number[], maxRank: number, maxElements: number): number {
  if (!Array.isArray(shape)) throw new TypeError('shape must be an array');
  const rank = shape.length;
  if (rank < 1 || rank > maxRank) throw new FrameError('bad-rank', `rank ${rank} is outside 1..${maxRank}`);
  let numel = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1 || d > MAX_DIM) {
      throw new FrameError('bad-dimension', `dimension ${d} is not an integer in 1..${MAX_DIM}`);
    }
    numel *= d;
  }
  if (numel > maxElements)
    throw new FrameError('too-large', `${numel} elements exceed the limit ${maxElements}`);
  return numel;
}

function checkEncoding(encoding: unknown): asserts encoding is Encoding {
  if (typeof encoding !== 'string' || !isEncoding(encoding)) {
    throw new TypeError(`unknown encoding ${String(encoding)}; expected one of ${ENCODINGS.join(', ')}`);
  }
}

function checkGranularity(granularity: unknown): asserts granularity is ScaleGranularity {
  if (!(GRANULARITIES as readonly unknown[]).includes(granularity)) {
    throw new TypeError(
      `unknown granularity ${String(granularity)}; expected one of ${GRANULARITIES.join(', ')}`,
    );
  }
}

/**
 * Exact byte size of a frame for this shape: 12 + 4·rank + S + ceil(numel ·
 * bits / 8), S as in the module comment. Throws like
 * encodeFrame on an invalid shape, but applies no element limit.
 */
export function frameSize(
  shape: readonly number[],
  encoding: Encoding,
  granularity: ScaleGranularity,
): number {
  checkEncoding(encoding);
  checkGranularity(granularity);
  const numel = checkShape(shape, FRAME_MAX_RANK, Number.POSITIVE_INFINITY);
  return layoutOf(shape.length, numel, shape[shape.length - 1], encoding, granularity).byteLength;
}

function defaultRandom(): () => number {
  return mulberry32((Math.random() * 2 ** 32) >>> 0);
}

/** Serialises a tensor. See the module comment for what throws. */
export function encodeFrame(t: Tensor, opts: EncodeOptions): Uint8Array<ArrayBuffer> {
  const { encoding } = opts;
  checkEncoding(encoding);
  const granularity = opts.granularity ?? 'token';
  checkGranularity(granularity);
  const rounding = opts.rounding ?? 'nearest';
  if (rounding !== 'nearest' && rounding !== 'stochastic') {
    throw new TypeError(`unknown rounding ${String(rounding)}; expected nearest or stochastic`);
  }
  if (opts.random !== undefined && typeof opts.random !== 'function') {
    throw new TypeError('random must be a function returning numbers in [0, 1)');
  }
  if (!(t.data instanceof Float32Array)) throw new TypeError('tensor data must be a Float32Array');
  const { maxElements, maxRank } = resolveLimits(opts.limits);
  const numel = checkShape(t.shape, maxRank, maxElements);
  const data = t.data;
  if (data.length !== numel) {
    throw new FrameError(
      'length-mismatch',
      `shape [${t.shape}] has ${numel} elements, data has ${data.length}`,
    );
  }
  const rank = t.shape.length;
  const L = layoutOf(rank, numel, t.shape[rank - 1], encoding, granularity);

  const out = new Uint8Array(L.byteLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FRAME_VERSION;
  out[5] = ENCODING_CODE[encoding];
  out[6] = GRANULARITY_CODE[granularity];
  out[7] = rank;
  for (let k = 0; k < rank; k++) view.setUint32(FIXED_HEADER + 4 * k, t.shape[k], true);

  const off = L.payloadOffset;
  if (encoding === 'fp32') {
    for (let i = 0; i < numel; i++) {
      const v = data[i];
      // v - v is 0 for every finite v and NaN for NaN and ±Infinity.
      if (v - v !== 0) throw new FrameError('non-finite', `element ${i} is ${v}`);
    }
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, numel * 4), off);
    else for (let i = 0; i < numel; i++) view.setFloat32(off + 4 * i, data[i], true);
  } else if (encoding === 'fp16') {
    const halves = LITTLE_ENDIAN ? new Uint16Array(out.buffer, off, numel) : new Uint16Array(numel);
    float32ToFloat16Array(data, halves);
    for (let i = 0; i < numel; i++) {
      if ((halves[i] & 0x7c00) === 0x7c00) {
        const v = data[i];
        const why =
          v - v !== 0 ? `is ${v}` : `(${v}) overflows fp16 (|x| >= 65520); use fp32 or an int encoding`;
        throw new FrameError('non-finite', `element ${i} ${why}`);
      }
    }
    if (!LITTLE_ENDIAN) for (let i = 0; i < numel; i++) view.setUint16(off + 2 * i, halves[i], true);
  } else {
    const bits = BITS[encoding] as CodeBits;
    // int8 codes go straight into the frame; narrower codes need packing.
    const codes = bits === 8 ? new Int8Array(out.buffer, off, numel) : new Int8Array(numel);
    const random = opts.random ?? (rounding === 'stochastic' ? defaultRandom() : Math.random);
    const q = { data, groupSize: L.groupSize, bits, rounding, random, codes };
    let bad: number;
    if (granularity === 'tensor') {
      const scale = new Float32Array(1);
      bad = quantize(q, scale);
      view.setUint16(L.scalesOffset, bfloat16Bits(scale[0]), true);
    } else {
      const token = quantizeTokens(q);
      bad = token.bad;
      view.setUint16(L.scalesOffset, bfloat16Bits(token.reference), true);
      out.set(token.scaleCodes, L.scalesOffset + 2);
    }
    if (bad >= 0) throw new FrameError('non-finite', `element ${bad} is ${data[bad]}`);
    if (bits !== 8) packCodes(codes, bits, out.subarray(off, off + L.payloadBytes));
  }

  const end = L.byteLength - CRC_BYTES;
  view.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

/**
 * Parses and validates the header: magic, version, encoding, granularity,
 * rank, dimensions, element limit, and that the byte length matches the size
 * formula. Reads at most 8 + 4·rank bytes and allocates nothing in proportion
 * to the claimed shape, so a server can reject a frame before decoding it.
 */
export function readFrameHeader(bytes: Uint8Array, limits?: FrameLimits): FrameHeader {
  const { maxElements, maxRank } = resolveLimits(limits);
  const len = bytes.length;
  // Checking the magic on whatever bytes exist first makes a short foreign
  // body 'bad-magic' while a short prefix of a real frame stays 'truncated'.
  for (let i = 0; i < 4 && i < len; i++) {
    if (bytes[i] !== MAGIC[i]) throw new FrameError('bad-magic', 'not a splitflare frame');
  }
  if (len < FIXED_HEADER) throw new FrameError('truncated', `${len} bytes is shorter than the fixed header`);
  const version = bytes[4];
  if (version !== FRAME_VERSION)
    throw new FrameError('bad-version', `version ${version}, expected ${FRAME_VERSION}`);
  const encoding = ENCODING_BY_CODE[bytes[5]];
  if (encoding === undefined) throw new FrameError('unknown-encoding', `encoding byte ${bytes[5]}`);
  const granularity = GRANULARITY_BY_CODE[bytes[6]];
  if (granularity === undefined) throw new FrameError('unknown-granularity', `granularity byte ${bytes[6]}`);
  const rank = bytes[7];
  if (rank < 1 || rank > maxRank) throw new FrameError('bad-rank', `rank ${rank} is outside 1..${maxRank}`);
  if (len < FIXED_HEADER + 4 * rank)
    throw new FrameError('truncated', `${len} bytes cannot hold ${rank} dimensions`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const shape = new Array<number>(rank);
  let numel = 1;
  for (let k = 0; k < rank; k++) {
    const d = view.getUint32(FIXED_HEADER + 4 * k, true);
    if (d === 0) throw new FrameError('bad-dimension', `dimension ${k} is 0`);
    shape[k] = d;
    // Checking after every factor keeps numel <= maxElements · 2^32 < 2^53:
    // the product stays exact and is never computed for absurd shapes.
    numel *= d;
    if (numel > maxElements) {
      throw new FrameError('too-large', `shape exceeds the limit of ${maxElements} elements`);
    }
  }
  const L = layoutOf(rank, numel, shape[rank - 1], encoding, granularity);
  if (len < L.byteLength)
    throw new FrameError('truncated', `${len} bytes, the header implies ${L.byteLength}`);
  if (len > L.byteLength) {
    throw new FrameError('length-mismatch', `${len} bytes, the header implies ${L.byteLength}`);
  }
  return { version, encoding, granularity, shape, numel, byteLength: L.byteLength };
}

/**
 * Fully validates a frame (header, CRC, scales, codes within −q…q,
 * finiteness of fp32/fp16 values) and returns the dequantized float32 data. The bfloat16 scale (or
 * reference) must be finite, positive and at most BFLOAT16_MAX / 2^(bits-1),
 * which bounds every token scale too and so guarantees every decoded value is
 * finite; the scale padding must be zero.
 */
export function decodeFrame(
  bytes: Uint8Array,
  limits?: FrameLimits,
): { header: FrameHeader; data: Float32Array } {
  const header = readFrameHeader(bytes, limits);
  const { encoding, granularity, shape, numel } = header;
  const len = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const end = len - CRC_BYTES;
  const stored = view.getUint32(end, true);
  const actual = crc32(bytes.subarray(0, end));
  if (stored !== actual) throw new FrameError('bad-crc', 'checksum mismatch: the frame is corrupt');

  const L = layoutOf(shape.length, numel, shape[shape.length - 1], encoding, granularity);
  const off = L.payloadOffset;
  const payload = bytes.subarray(off, off + L.payloadBytes);
  const data = new Float32Array(numel);

  if (encoding === 'fp32') {
    // Copying into the fresh output sidesteps the alignment of `bytes`.
    if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(payload);
    else for (let i = 0; i < numel; i++) data[i] = view.getFloat32(off + 4 * i, true);
    for (let i = 0; i < numel; i++) {
      const v = data[i];
      if (v - v !== 0) throw new FrameError('non-finite', `element ${i} is ${v}`);
    }
  } else if (encoding === 'fp16') {
    let halves: Uint16Array;
    if (LITTLE_ENDIAN && ((bytes.byteOffset + off) & 1) === 0) {
      halves = new Uint16Array(bytes.buffer, bytes.byteOffset + off, numel);
    } else {
      halves = new Uint16Array(numel);
      if (LITTLE_ENDIAN) new Uint8Array(halves.buffer).set(payload);
      else for (let i = 0; i < numel; i++) halves[i] = view.getUint16(off + 2 * i, true);
    }
    for (let i = 0; i < numel; i++) {
      if ((halves[i] & 0x7c00) === 0x7c00) {
        throw new FrameError('non-finite', `element ${i} is ${halves[i] & 0x3ff ? 'NaN' : 'infinite'}`);
      }
    }
    float16ToFloat32Array(halves, data);
  } else {
    const bits = BITS[encoding] as CodeBits;
    const first = bfloat16Value(view.getUint16(L.scalesOffset, true));
    if (!isValidScale(first, bits)) {
      const what = granularity === 'tensor' ? 'scale' : 'reference scale';
      throw new FrameError('bad-scale', `${what} is ${first}; must be in (0, ${maxScale(bits)}]`);
    }
    let scales: Float32Array;
    let used: number;
    if (granularity === 'tensor') {
      scales = Float32Array.of(first);
      used = 2;
    } else {
      scales = new Float32Array(L.nScales);
      const at = L.scalesOffset + 2;
      // Every code is valid: the least bfloat16, 2^-133, times the least
      // factor, 2^-15.94, still rounds to the least float32 (2^-149), not 0.
      for (let g = 0; g < L.nScales; g++) scales[g] = tokenScale(first, bytes[at + g]);
      used = 2 + L.nScales;
    }
    for (let i = L.scalesOffset + used; i < L.payloadOffset; i++) {
      if (bytes[i] !== 0) throw new FrameError('bad-scale', 'the padding after the scales is not zero');
    }
    let codes: Int8Array;
    if (bits === 8) {
      codes = new Int8Array(bytes.buffer, bytes.byteOffset + off, numel);
    } else {
      codes = new Int8Array(numel);
      unpackCodes(payload, bits, numel, codes);
    }
    const least = -qmaxOf(bits);
    for (let i = 0; i < numel; i++) {
      if (codes[i] < least) {
        throw new FrameError(
          'code-out-of-range',
          `element ${i} has code ${codes[i]}; levels are ${least}…${-least}`,
        );
      }
    }
    dequantize(codes, scales, L.groupSize, data);
  }
  return { header, data };
}
