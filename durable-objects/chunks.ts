// Durable Object storage holds at most 2 MB per row or value, and adapter
// tensors, float64 accumulators, optimizer state or a batch's gradient frame
// can be bigger: both objects store byte blobs as ordered pieces.

/** Under the 2 MB row limit with room for the row's other columns; a multiple of 8, so no float64 straddles two pieces. */
export const PIECE_BYTES = 1_000_000;

export function splitBytes(bytes: Uint8Array, pieceBytes = PIECE_BYTES): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += pieceBytes) pieces.push(bytes.subarray(at, at + pieceBytes));
  return pieces;
}

export function joinBytes(pieces: readonly Uint8Array<ArrayBuffer>[]): Uint8Array<ArrayBuffer> {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SQL binds take an ArrayBuffer: the exact bytes of a view, copied only when it does not span its buffer. */
export function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return bytes.buffer;
  }
  return bytes.slice().buffer;
}
