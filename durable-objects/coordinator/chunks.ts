// Adapter tensors and their float64 accumulators as stored pieces (see ../chunks.ts).
import { joinBytes, PIECE_BYTES, splitBytes } from '../chunks.js';

export const MAX_CHUNK_BYTES = PIECE_BYTES;

/** Copies of consecutive slices of the array's bytes, each at most MAX_CHUNK_BYTES. */
export function toChunks(values: Float64Array | Float32Array): ArrayBuffer[] {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return splitBytes(bytes).map((piece) => piece.slice().buffer);
}

/** Reassembles chunks (in chunk order); a length mismatch means storage no longer matches the trainables. */
export function fromChunks(parts: readonly ArrayBuffer[], byteLength: number, what: string): Uint8Array {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  if (total !== byteLength) throw new Error(`${what}: stored ${total} bytes, expected ${byteLength}`);
  return joinBytes(parts.map((p) => new Uint8Array(p)));
}
