// Float32 ↔ little-endian bytes, and base64, without Node's Buffer: this
// folder runs in browsers and workerd too.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `src` as float32 LE into `out` at byte offset `at`. */
export function writeF32LE(out: Uint8Array, at: number, src: Float32Array): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + at, src.byteLength);
  for (let i = 0; i < src.length; i++) view.setFloat32(4 * i, src[i], true);
}

/** A fresh Float32Array read from `count` float32 LE values at byte offset `at`. */
export function readF32LE(bytes: Uint8Array, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * count));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 4 * count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

export function f32ToBytes(src: Float32Array): Uint8Array {
  const out = new Uint8Array(src.byteLength);
  writeF32LE(out, 0, src);
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    chunk +=
      ALPHABET[n >>> 18] +
      ALPHABET[(n >>> 12) & 63] +
      (i + 1 < bytes.length ? ALPHABET[(n >>> 6) & 63] : '=') +
      (i + 2 < bytes.length ? ALPHABET[n & 63] : '=');
    // Flush now and then so the string builder never holds one huge rope.
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

/** Strict decoder: rejects bad length, characters outside the alphabet and misplaced padding. */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error('base64 length is not a multiple of 4');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 61 && i + 4 === text.length && j >= 4 - pad;
      const v = isPad ? 0 : c < 128 ? LOOKUP[c] : -1;
      if (v < 0) throw new Error(`invalid base64 character at ${i + j}`);
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
