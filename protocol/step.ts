// The body of one split training step and its answer: the device sends the
// quantized cut activation with its labels, the Worker answers with the loss,
// the batch's correct count and the quantized dL/d(activation). One
// implementation, imported by the device SDK and the Workers code.
//
// Request, little-endian:
//   0        magic "SFSQ"
//   4        version u8 (= 1), then 3 reserved zero bytes
//   8        label count n (u32), equal to the activation frame's batch dimension
//   12       labels, u16 each, zero-padded to a multiple of 4 bytes
//   12 + L   CRC-32 (IEEE) u32 of bytes [0, 12 + L), L = ⌈2n / 4⌉·4
//   16 + L   the activation frame (protocol/frame.ts), which carries its own CRC
//
// Answer, little-endian:
//   0        magic "SFSA"
//   4        version u8 (= 1), then 3 reserved zero bytes
//   8        loss f32 (mean cross-entropy over the batch)
//   12       correct u32: rows whose argmax(logits) equals the label
//   16       CRC-32 u32 of bytes [0, 16)
//   20       the gradient frame: dL/d(activation), same shape as the activation
//
// Both envelopes put the frame at a multiple of 4, so a frame read out of a
// freshly received buffer keeps the alignment its payload was laid out for.
// A frame's own CRC covers its bytes, the envelope CRC covers everything
// before it: every corrupted byte is caught by one of the two.
//
// Errors follow protocol/frame.ts: anything wrong with received bytes is a
// StepError with a stable code (frame problems as 'bad-frame' with the frame's
// own code in `frameCode`); the encoders throw the same StepError for values
// the decoders would refuse, and TypeError for arguments of the wrong kind.
import { crc32 } from './crc32.js';
import {
  FrameError,
  type FrameErrorCode,
  type FrameHeader,
  type FrameLimits,
  readFrameHeader,
} from './frame.js';

export type StepErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'bad-reserved'
  | 'bad-crc'
  | 'no-labels'
  | 'bad-label'
  | 'label-count-mismatch'
  | 'non-finite'
  | 'bad-count'
  | 'bad-frame';

export class StepError extends Error {
  readonly code: StepErrorCode;
  /** For 'bad-frame': what was wrong with the embedded frame. */
  readonly frameCode?: FrameErrorCode;
  constructor(code: StepErrorCode, message: string, frameCode?: FrameErrorCode) {
    super(`${code}: ${message}`);
    this.name = 'StepError';
    this.code = code;
    if (frameCode !== undefined) this.frameCode = frameCode;
  }
}

export const STEP_VERSION = 1;
/** Largest label a u16 can carry. */
export const MAX_LABEL = 0xffff;
/** Bytes the answer adds to its gradient frame. */
export const STEP_ANSWER_OVERHEAD = 20;

const REQUEST_MAGIC = [0x53, 0x46, 0x53, 0x51]; // "SFSQ"
const ANSWER_MAGIC = [0x53, 0x46, 0x53, 0x41]; // "SFSA"
const FIXED = 12;
const CRC_BYTES = 4;
const MAX_U32 = 0xffffffff;

export interface StepLimits {
  /** Passed to readFrameHeader for the embedded frame. */
  frame?: FrameLimits;
  /** Labels must be below this (the model's class count); default MAX_LABEL + 1. */
  numClasses?: number;
}

export interface StepRequest {
  labels: Int32Array;
  /** The activation frame: header and CRC verified, payload not yet decoded. */
  frame: Uint8Array;
  header: FrameHeader;
}

export interface StepAnswer {
  loss: number;
  correct: number;
  /** The gradient frame: header and CRC verified, payload not yet decoded. */
  frame: Uint8Array;
  header: FrameHeader;
}

const labelBytes = (n: number) => (2 * n + 3) & ~3;

/** Size of a request carrying `labelCount` labels and a frame of `frameBytes`. */
export function stepRequestSize(labelCount: number, frameBytes: number): number {
  return FIXED + labelBytes(labelCount) + CRC_BYTES + frameBytes;
}

/** Size of an answer whose gradient frame has `frameBytes`. */
export function stepAnswerSize(frameBytes: number): number {
  return STEP_ANSWER_OVERHEAD + frameBytes;
}

function checkMagic(bytes: Uint8Array, magic: readonly number[]): void {
  // As in frame.ts: a short foreign body is 'bad-magic', a short prefix of a real one 'truncated'.
  for (let i = 0; i < 4 && i < bytes.length; i++) {
    if (bytes[i] !== magic[i]) throw new StepError('bad-magic', 'not a splitflare step envelope');
  }
}

function checkPrefix(bytes: Uint8Array, magic: readonly number[], minLength: number): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
  checkMagic(bytes, magic);
  if (bytes.length < minLength) {
    throw new StepError('truncated', `${bytes.length} bytes is shorter than the ${minLength}-byte header`);
  }
  if (bytes[4] !== STEP_VERSION) {
    throw new StepError('bad-version', `version ${bytes[4]}, expected ${STEP_VERSION}`);
  }
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new StepError('bad-reserved', 'reserved bytes must be zero');
  }
}

function checkCrc(view: DataView, bytes: Uint8Array, end: number): void {
  if (view.getUint32(end, true) !== crc32(bytes.subarray(0, end))) {
    throw new StepError('bad-crc', 'checksum mismatch: the envelope is corrupt');
  }
}

/** Header checks plus the frame's CRC, so that no corrupt byte goes unnoticed. */
function verifyFrame(frame: Uint8Array, limits: FrameLimits | undefined): FrameHeader {
  let header: FrameHeader;
  try {
    header = readFrameHeader(frame, limits);
  } catch (err) {
    if (err instanceof FrameError) throw new StepError('bad-frame', err.message, err.code);
    throw err;
  }
  const end = frame.length - CRC_BYTES;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  if (view.getUint32(end, true) !== crc32(frame.subarray(0, end))) {
    throw new StepError('bad-frame', 'bad-crc: checksum mismatch: the frame is corrupt', 'bad-crc');
  }
  return header;
}

function numClassesOf(limits: StepLimits | undefined): number {
  const n = limits?.numClasses ?? MAX_LABEL + 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LABEL + 1) {
    throw new RangeError(`StepLimits.numClasses must be an integer in 1..${MAX_LABEL + 1}, got ${n}`);
  }
  return n;
}

function checkBatch(header: FrameHeader, labelCount: number): void {
  if (header.shape[0] !== labelCount) {
    throw new StepError(
      'label-count-mismatch',
      `${labelCount} labels for a batch of ${header.shape[0]} (shape [${header.shape}])`,
    );
  }
}

/** Builds a step request around an already encoded activation frame. */
export function encodeStepRequest(
  input: { activation: Uint8Array; labels: ArrayLike<number> },
  limits?: StepLimits,
): Uint8Array<ArrayBuffer> {
  const { activation, labels } = input;
  if (!(activation instanceof Uint8Array)) throw new TypeError('activation must be a Uint8Array frame');
  const numClasses = numClassesOf(limits);
  const n = labels.length;
  if (n < 1) throw new StepError('no-labels', 'a step needs at least one label');
  const header = verifyFrame(activation, limits?.frame);
  checkBatch(header, n);

  const headEnd = FIXED + labelBytes(n);
  const out = new Uint8Array(headEnd + CRC_BYTES + activation.length);
  const view = new DataView(out.buffer);
  out.set(REQUEST_MAGIC, 0);
  out[4] = STEP_VERSION;
  view.setUint32(8, n, true);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new StepError('bad-label', `label ${i} is ${y}; must be an integer in 0..${numClasses - 1}`);
    }
    view.setUint16(FIXED + 2 * i, y, true);
  }
  view.setUint32(headEnd, crc32(out.subarray(0, headEnd)), true);
  out.set(activation, headEnd + CRC_BYTES);
  return out;
}

/**
 * Validates a step request: envelope, CRC, labels, the embedded frame's header
 * and CRC, and that there is one label per batch row. The frame is returned
 * as a view into `bytes` for the caller to check against what it accepts
 * before paying for decodeFrame.
 */
export function decodeStepRequest(bytes: Uint8Array, limits?: StepLimits): StepRequest {
  const numClasses = numClassesOf(limits);
  checkPrefix(bytes, REQUEST_MAGIC, FIXED);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = view.getUint32(8, true);
  // Compared before anything is sized by n, so a hostile count allocates nothing.
  if (n > (bytes.length - FIXED - CRC_BYTES) / 2) {
    throw new StepError('truncated', `${bytes.length} bytes cannot hold ${n} labels`);
  }
  const headEnd = FIXED + labelBytes(n);
  if (bytes.length < headEnd + CRC_BYTES) {
    throw new StepError('truncated', `${bytes.length} bytes cannot hold ${n} labels and a checksum`);
  }
  checkCrc(view, bytes, headEnd);
  if (n === 0) throw new StepError('no-labels', 'a step needs at least one label');
  for (let at = FIXED + 2 * n; at < headEnd; at++) {
    if (bytes[at] !== 0) throw new StepError('bad-reserved', 'label padding must be zero');
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = view.getUint16(FIXED + 2 * i, true);
    if (y >= numClasses) throw new StepError('bad-label', `label ${i} is ${y}; the model has ${numClasses}`);
    labels[i] = y;
  }
  const frame = bytes.subarray(headEnd + CRC_BYTES);
  const header = verifyFrame(frame, limits?.frame);
  checkBatch(header, n);
  return { labels, frame, header };
}

/** Builds a step answer around an already encoded gradient frame. */
export function encodeStepAnswer(input: {
  loss: number;
  correct: number;
  gradient: Uint8Array;
}): Uint8Array<ArrayBuffer> {
  const { loss, correct, gradient } = input;
  if (!(gradient instanceof Uint8Array)) throw new TypeError('gradient must be a Uint8Array frame');
  if (typeof loss !== 'number' || typeof correct !== 'number') {
    throw new TypeError('loss and correct must be numbers');
  }
  if (!Number.isFinite(Math.fround(loss))) throw new StepError('non-finite', `loss is ${loss}`);
  const header = verifyFrame(gradient, undefined);
  if (!Number.isInteger(correct) || correct < 0 || correct > Math.min(header.shape[0], MAX_U32)) {
    throw new StepError('bad-count', `correct is ${correct} for a batch of ${header.shape[0]}`);
  }
  const out = new Uint8Array(STEP_ANSWER_OVERHEAD + gradient.length);
  const view = new DataView(out.buffer);
  out.set(ANSWER_MAGIC, 0);
  out[4] = STEP_VERSION;
  view.setFloat32(8, loss, true);
  view.setUint32(12, correct, true);
  view.setUint32(16, crc32(out.subarray(0, 16)), true);
  out.set(gradient, STEP_ANSWER_OVERHEAD);
  return out;
}

/** Validates a step answer: envelope, CRC, a finite loss, a plausible count and the frame's header and CRC. */
export function decodeStepAnswer(bytes: Uint8Array, limits?: Pick<StepLimits, 'frame'>): StepAnswer {
  checkPrefix(bytes, ANSWER_MAGIC, STEP_ANSWER_OVERHEAD);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  checkCrc(view, bytes, 16);
  const loss = view.getFloat32(8, true);
  if (!Number.isFinite(loss)) throw new StepError('non-finite', `loss is ${loss}`);
  const correct = view.getUint32(12, true);
  const frame = bytes.subarray(STEP_ANSWER_OVERHEAD);
  const header = verifyFrame(frame, limits?.frame);
  if (correct > header.shape[0]) {
    throw new StepError('bad-count', `correct is ${correct} for a batch of ${header.shape[0]}`);
  }
  return { loss, correct, frame, header };
}
