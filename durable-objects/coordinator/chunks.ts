// Durable Object SQLite rows and values are capped at 2 MB, and one adapter
// tensor's float64 accumulator can exceed that: tensors are stored as ordered
// chunks that stay under the cap with room for the row's key columns.

/** A multiple of 8, so float64 and float32 elements never straddle two chunks. */
export const MAX_CHUNK_BYTES = 1_900_000;

/** Copies of consecutive slices of the array's bytes, each at most MAX_CHUNK_BYTES. */
export function toChunks(values: Float64Array | Float32Array): ArrayBuffer[] {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out: ArrayBuffer[] = [];
  for (let at = 0; at < bytes.byteLength; at += MAX_CHUNK_BYTES) {
    out.push(bytes.slice(at, at + MAX_CHUNK_BYTES).buffer);
  }
  return out;
}

/** Reassembles chunks (in chunk order); a length mismatch means storage no longer matches the trainables. */
export function fromChunks(parts: readonly ArrayBuffer[], byteLength: number, what: string): Uint8Array {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  if (total !== byteLength) throw new Error(`${what}: stored ${total} bytes, expected ${byteLength}`);
  const out = new Uint8Array(byteLength);
  let at = 0;
  for (const part of parts) {
    out.set(new Uint8Array(part), at);
    at += part.byteLength;
  }
  return out;
}
