// Optimizer state as bytes, for Durable Object storage and device storage.
//
// Layout, little-endian:
//   0        magic "SFOS"
//   4        version u8 (= 1), then 3 zero bytes
//   8        header length H (u32): UTF-8 JSON
//            {kind, step, hyper, params: [{name, size, buffers: [key, ...]}]}
//   12       payload length P (u32)
//   16       header, space-padded to a multiple of 4 (so the payload is 4-aligned)
//   16 + ⌈H⌉ payload: float32 buffers, in header order (params, then keys)
//   end - 4  CRC-32 (IEEE) of every preceding byte
//
// A Durable Object value is at most 2 MB, and the buffers of one parameter
// (AdamW keeps two) can exceed that, so encodeOptimizerStateChunks cuts the
// encoded state into pieces of a bounded size, each with a small header
// (magic "SFOC", version, index, count, the state's CRC). Reassembly rejects
// missing, duplicated or mixed-up pieces (pieces of two different saves).
import { crc32 } from '../../protocol/crc32.js';
import { readF32LE, writeF32LE } from './bytes.js';
import { OptimizerError } from './errors.js';
import { bufferKeys, type OptimizerState, STATE_VERSION, validateState } from './state.js';

const STATE_MAGIC = [0x53, 0x46, 0x4f, 0x53]; // "SFOS"
const CHUNK_MAGIC = [0x53, 0x46, 0x4f, 0x43]; // "SFOC"
const CODEC_VERSION = 1;
const PREFIX = 16;
const CHUNK_HEADER = 20;
/** Under the 2 MB Durable Object value limit, header included. */
export const DEFAULT_CHUNK_BYTES = 2_000_000;

interface HeaderParam {
  name: string;
  size: number;
  buffers: string[];
}

function bad(message: string): never {
  throw new OptimizerError('invalid_state', `optimizer state bytes: ${message}`);
}

const pad4 = (n: number) => (n + 3) & ~3;

export function encodeOptimizerState(state: OptimizerState): Uint8Array {
  const s = validateState(state);
  const keys = bufferKeys(s);
  const params: HeaderParam[] = Object.entries(s.params).map(([name, p]) => ({
    name,
    size: p.size,
    buffers: keys,
  }));
  const header = new TextEncoder().encode(
    JSON.stringify({ kind: s.kind, step: s.step, hyper: s.hyper, params }),
  );
  const payload = params.reduce((sum, p) => sum + 4 * p.size * p.buffers.length, 0);
  const headerEnd = PREFIX + pad4(header.length);
  const out = new Uint8Array(headerEnd + payload + 4);
  const view = new DataView(out.buffer);
  out.set(STATE_MAGIC, 0);
  out[4] = CODEC_VERSION;
  view.setUint32(8, header.length, true);
  view.setUint32(12, payload, true);
  out.set(header, PREFIX);
  out.fill(0x20, PREFIX + header.length, headerEnd);
  let at = headerEnd;
  for (const p of params) {
    for (const key of p.buffers) {
      writeF32LE(out, at, s.params[p.name].buffers[key]);
      at += 4 * p.size;
    }
  }
  view.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

function parseHeader(bytes: Uint8Array): {
  kind: unknown;
  step: unknown;
  hyper: unknown;
  params: HeaderParam[];
} {
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    bad('header is not UTF-8 JSON');
  }
  const r = h as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.params)) bad('header is malformed');
  for (const p of r.params as unknown[]) {
    const q = p as HeaderParam | null;
    if (
      !q ||
      typeof q.name !== 'string' ||
      !Number.isSafeInteger(q.size) ||
      q.size < 0 ||
      !Array.isArray(q.buffers) ||
      !q.buffers.every((k) => typeof k === 'string')
    ) {
      bad('header lists a malformed parameter');
    }
  }
  return r as unknown as ReturnType<typeof parseHeader>;
}

export function decodeOptimizerState(bytes: Uint8Array): OptimizerState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeOptimizerState expects a Uint8Array');
  if (bytes.length < PREFIX + 4) bad(`${bytes.length} bytes is too short`);
  if (STATE_MAGIC.some((b, i) => bytes[i] !== b)) bad('bad magic (not an optimizer state)');
  if (bytes[4] !== CODEC_VERSION) bad(`unknown codec version ${bytes[4]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  const payload = view.getUint32(12, true);
  const headerEnd = PREFIX + pad4(headerLength);
  if (headerEnd + payload + 4 !== bytes.length) bad(`lengths do not add up to ${bytes.length} bytes`);
  const body = bytes.length - 4;
  if (crc32(bytes.subarray(0, body)) !== view.getUint32(body, true))
    bad('CRC mismatch (corrupt or truncated)');
  const header = parseHeader(bytes.subarray(PREFIX, PREFIX + headerLength));
  const expected = header.params.reduce((sum, p) => sum + 4 * p.size * p.buffers.length, 0);
  if (expected !== payload) bad(`header describes ${expected} payload bytes, found ${payload}`);
  let at = headerEnd;
  const params = header.params.map((p) => {
    const buffers = p.buffers.map((key) => {
      const data = readF32LE(bytes, at, p.size);
      at += 4 * p.size;
      return [key, data] as const;
    });
    return [p.name, { size: p.size, buffers: Object.fromEntries(buffers) }] as const;
  });
  if (new Set(header.params.map((p) => p.name)).size !== params.length) bad('a parameter is listed twice');
  return validateState({
    version: STATE_VERSION,
    kind: header.kind,
    step: header.step,
    hyper: header.hyper,
    params: Object.fromEntries(params),
  });
}

/** The encoded state in pieces of at most `maxBytes` each (header included). */
export function encodeOptimizerStateChunks(
  state: OptimizerState,
  maxBytes = DEFAULT_CHUNK_BYTES,
): Uint8Array[] {
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= CHUNK_HEADER) {
    throw new RangeError(`maxBytes must be an integer > ${CHUNK_HEADER}, got ${maxBytes}`);
  }
  const blob = encodeOptimizerState(state);
  const stateCrc = new DataView(blob.buffer).getUint32(blob.length - 4, true);
  const room = maxBytes - CHUNK_HEADER;
  const count = Math.ceil(blob.length / room);
  return Array.from({ length: count }, (_, index) => {
    const part = blob.subarray(index * room, (index + 1) * room);
    const out = new Uint8Array(CHUNK_HEADER + part.length);
    const view = new DataView(out.buffer);
    out.set(CHUNK_MAGIC, 0);
    out[4] = CODEC_VERSION;
    view.setUint32(8, index, true);
    view.setUint32(12, count, true);
    view.setUint32(16, stateCrc, true);
    out.set(part, CHUNK_HEADER);
    return out;
  });
}

/** Reassembles pieces from encodeOptimizerStateChunks, given in any order. */
export function decodeOptimizerStateChunks(chunks: readonly Uint8Array[]): OptimizerState {
  if (chunks.length === 0) bad('no chunks');
  const parts: Uint8Array[] = new Array(chunks.length);
  let stateCrc: number | undefined;
  for (const chunk of chunks) {
    if (!(chunk instanceof Uint8Array) || chunk.length < CHUNK_HEADER) bad('a chunk is too short');
    if (CHUNK_MAGIC.some((b, i) => chunk[i] !== b) || chunk[4] !== CODEC_VERSION)
      bad('a chunk has a bad magic or version');
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const index = view.getUint32(8, true);
    const count = view.getUint32(12, true);
    const crc = view.getUint32(16, true);
    if (count !== chunks.length) bad(`chunk says ${count} chunks, got ${chunks.length}`);
    if (stateCrc !== undefined && crc !== stateCrc) bad('chunks come from different saves');
    stateCrc = crc;
    if (index >= count || parts[index]) bad(`chunk ${index} is out of range or duplicated`);
    parts[index] = chunk.subarray(CHUNK_HEADER);
  }
  const blob = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    blob.set(p, at);
    at += p.length;
  }
  return decodeOptimizerState(blob);
}
