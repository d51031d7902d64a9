// The safetensors format, runtime-neutral (devices, Workers, Node), read
// strictly: the files come from devices and registries alike.
//
// Layout:
//   0        N, the header length, u64 little-endian
//   8        the header: N bytes of UTF-8 JSON, an object starting with "{"
//            (trailing spaces allowed), mapping each tensor name to
//            {dtype, shape, data_offsets}, plus an optional "__metadata__"
//            object of string values
//   8 + N    the data buffer: the tensors' little-endian bytes
//
// What the reader requires, beyond the spec's letter where the spec leaves a
// reader room (its reference implementation checks the same): every dtype is
// one this module decodes; a shape is an array of non-negative safe integers;
// data_offsets are two non-negative safe integers [begin, end], begin <= end,
// relative to the data buffer, and end - begin is the shape's elements times
// the dtype's width; sorted by begin, the tensors tile the data buffer from 0
// to its last byte with no overlap and no gap ("the data buffer is fully
// indexed, no holes"). An overlap would let one set of bytes stand for two
// tensors, a hole would carry bytes nobody reads, a negative begin would read
// header bytes as data: a file that does any of it is refused, not repaired.
//
// Errors. Everything wrong with the bytes is a SafetensorsError with a stable
// code; callers map it to their own refusal (protocol/update.ts for device
// updates).
import type { HostTensor } from '../models/onnx/tensor.js';

export type SafetensorsErrorCode =
  /** Shorter than the length field, or a header running past the end of the file. */
  | 'truncated'
  /** The header length is over the reader's limit. */
  | 'header-too-large'
  /** The header is not UTF-8 JSON. */
  | 'bad-json'
  /** The header is JSON but not an object. */
  | 'header-not-object'
  /** __metadata__ is not an object of strings. */
  | 'bad-metadata'
  | 'too-many-tensors'
  /** An entry is not exactly {dtype, shape, data_offsets}. */
  | 'bad-entry'
  | 'unknown-dtype'
  | 'bad-shape'
  /** data_offsets is not two non-negative safe integers with begin <= end. */
  | 'bad-offsets'
  /** end - begin is not the shape's elements times the dtype's width. */
  | 'size-mismatch'
  | 'overlap'
  /** Bytes between two tensors, or before the first one, that no tensor covers. */
  | 'gap'
  /** A tensor ends past the end of the file. */
  | 'out-of-bounds'
  /** Bytes after the last tensor. */
  | 'trailing-bytes';

export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode;
  constructor(code: SafetensorsErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'SafetensorsError';
    this.code = code;
  }
}

export interface SafetensorsLimits {
  /** Default SAFETENSORS_MAX_HEADER_BYTES. */
  maxHeaderBytes?: number;
  /** Default unlimited (the header limit bounds it). */
  maxTensors?: number;
}

/** The reference implementation's own bound on the header. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export interface Safetensors {
  tensors: Map<string, HostTensor>;
  /** The __metadata__ strings, or an empty object when the file has none. */
  metadata: Record<string, string>;
  /** Whether the file had a __metadata__ entry at all. */
  hasMetadata: boolean;
}

const METADATA = '__metadata__';
const WIDTH: Record<string, number> = { F32: 4, I64: 8, I32: 4, BOOL: 1, U8: 1 };
const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];
const OPEN_BRACE = 0x7b;

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeTensor(entry: Entry, bytes: Uint8Array): HostTensor {
  // Copy so the typed array is aligned and does not alias the file buffer
  // (a Node Buffer's slice() is a view, not a copy).
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const buf = copy.buffer;
  const dims = [...entry.shape];
  switch (entry.dtype) {
    case 'F32':
      return { dtype: 'float32', dims, data: new Float32Array(buf) };
    case 'I64':
      return { dtype: 'int64', dims, data: new BigInt64Array(buf) };
    case 'I32':
      return { dtype: 'int32', dims, data: new Int32Array(buf) };
    default:
      // BOOL and U8, the only other widths WIDTH admits.
      return { dtype: 'bool', dims, data: new Uint8Array(buf) };
  }
}

function readHeader(
  file: Uint8Array,
  maxHeaderBytes: number,
): { header: Record<string, unknown>; dataStart: number } {
  if (file.byteLength < 8) {
    throw new SafetensorsError(
      'truncated',
      `${file.byteLength} bytes is shorter than the header length field`,
    );
  }
  const length = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  // Compared as bigints: a u64 over 2^53 must not round into range.
  if (length > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError(
      'header-too-large',
      `a ${length}-byte header is over the limit of ${maxHeaderBytes}`,
    );
  }
  const dataStart = 8 + Number(length);
  if (dataStart > file.byteLength) {
    throw new SafetensorsError(
      'truncated',
      `the ${length}-byte header runs past the end of the ${file.byteLength}-byte file`,
    );
  }
  const raw = file.subarray(8, dataStart);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw));
  } catch (err) {
    throw new SafetensorsError('bad-json', `the header is not UTF-8 JSON: ${(err as Error).message}`);
  }
  // The spec wants the object's brace first: no leading whitespace or BOM.
  if (!isPlainObject(header) || raw[0] !== OPEN_BRACE) {
    throw new SafetensorsError('header-not-object', 'the header must be a JSON object starting with "{"');
  }
  return { header, dataStart };
}

function readMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw new SafetensorsError('bad-metadata', `${METADATA} is not an object`);
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') {
      throw new SafetensorsError('bad-metadata', `${METADATA}.${key} is not a string`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Bytes of a tensor, or Infinity past the safe integers (no offsets can match that). */
function byteSize(shape: readonly number[], width: number): number {
  if (shape.includes(0)) return 0;
  let bytes = width;
  for (const d of shape) {
    if (bytes > Number.MAX_SAFE_INTEGER / d) return Number.POSITIVE_INFINITY;
    bytes *= d;
  }
  return bytes;
}

/** One entry's own fields, checked on their own; how entries fit together is checkTiling's. */
function readEntry(name: string, value: unknown): Entry {
  const at = JSON.stringify(name);
  if (!isPlainObject(value) || Object.keys(value).sort().join() !== ENTRY_KEYS.join()) {
    throw new SafetensorsError('bad-entry', `${at} is not exactly {dtype, shape, data_offsets}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  const width = typeof dtype === 'string' && Object.hasOwn(WIDTH, dtype) ? WIDTH[dtype] : undefined;
  if (width === undefined) {
    throw new SafetensorsError(
      'unknown-dtype',
      `${at} has dtype ${JSON.stringify(dtype)}; known: ${Object.keys(WIDTH).join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new SafetensorsError(
      'bad-shape',
      `${at} has shape ${JSON.stringify(shape)}, not an array of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !isCount(offsets[0]) ||
    !isCount(offsets[1]) ||
    offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(
      'bad-offsets',
      `${at} has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers [begin, end] with begin <= end`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const bytes = byteSize(shape as number[], width);
  if (end - begin !== bytes) {
    throw new SafetensorsError(
      'size-mismatch',
      `${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${shape}] of ${dtype} needs ${Number.isFinite(bytes) ? bytes : 'more than 2^53'}`,
    );
  }
  return { name, dtype: dtype as string, shape: shape as number[], begin, end };
}

/** Sorted by begin, the entries must tile [0, dataBytes) exactly. */
function checkTiling(entries: Entry[], dataBytes: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last = '';
  for (const e of sorted) {
    const at = JSON.stringify(e.name);
    if (e.begin < covered) {
      throw new SafetensorsError(
        'overlap',
        `${at} [${e.begin}, ${e.end}] overlaps ${JSON.stringify(last)}, which ends at ${covered}`,
      );
    }
    if (e.begin > covered) {
      throw new SafetensorsError(
        'gap',
        `bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor`,
      );
    }
    if (e.end > dataBytes) {
      throw new SafetensorsError(
        'out-of-bounds',
        `${at} ends at ${e.end}, past the ${dataBytes}-byte data buffer`,
      );
    }
    covered = e.end;
    last = e.name;
  }
  if (covered < dataBytes) {
    throw new SafetensorsError(
      'trailing-bytes',
      `bytes [${covered}, ${dataBytes}) after the last tensor belong to no tensor`,
    );
  }
}

/** Parses and validates a safetensors file: its tensors (copied, aligned) and its metadata. */
export function decodeSafetensors(file: Uint8Array, limits?: SafetensorsLimits): Safetensors {
  const maxHeaderBytes = limits?.maxHeaderBytes ?? SAFETENSORS_MAX_HEADER_BYTES;
  const maxTensors = limits?.maxTensors ?? Number.POSITIVE_INFINITY;
  const { header, dataStart } = readHeader(file, maxHeaderBytes);
  const dataBytes = file.byteLength - dataStart;
  const hasMetadata = Object.hasOwn(header, METADATA);
  const metadata = hasMetadata ? readMetadata(header[METADATA]) : {};
  const names = Object.keys(header).filter((name) => name !== METADATA);
  if (names.length > maxTensors) {
    throw new SafetensorsError('too-many-tensors', `${names.length} tensors, the limit is ${maxTensors}`);
  }
  const entries = names.map((name) => readEntry(name, header[name]));
  checkTiling(entries, dataBytes);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    tensors.set(e.name, decodeTensor(e, file.subarray(dataStart + e.begin, dataStart + e.end)));
  }
  return { tensors, metadata, hasMetadata };
}

/** The tensors of a safetensors file (validated as decodeSafetensors does; metadata dropped). */
export function parseSafetensors(file: Uint8Array, limits?: SafetensorsLimits): Map<string, HostTensor> {
  return decodeSafetensors(file, limits).tensors;
}

const DTYPE_NAME: Record<HostTensor['dtype'], string> = {
  float32: 'F32',
  int64: 'I64',
  int32: 'I32',
  bool: 'BOOL',
};

/**
 * Serializes named tensors as safetensors, names sorted so the same tensors
 * always give the same bytes (the file's sha256 is a stable identity). The
 * tensors tile the data buffer in name order, as decodeSafetensors requires;
 * dims that do not describe a tensor's data are a RangeError, so the encoder
 * never writes a file the decoder refuses.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA] = metadata;
  if (tensors.has(METADATA)) throw new TypeError(`${METADATA} is reserved; it cannot name a tensor`);
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const width = WIDTH[DTYPE_NAME[t.dtype]];
    if (!t.dims.every(isCount) || byteSize(t.dims, width) !== t.data.byteLength) {
      throw new RangeError(
        `${name}: dims [${t.dims}] do not describe ${t.data.byteLength} bytes of ${t.dtype}`,
      );
    }
    header[name] = {
      dtype: DTYPE_NAME[t.dtype],
      shape: t.dims,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
