// Masks from seeds: AES-256-CTR keystream over zeros, 6 bytes per ring
// element. Every seed is used for one round only (keys are fresh per round),
// so a zero counter block is safe, and the device and the coordinator expand
// the same seed to the same mask on any WebCrypto.
import { MODULUS } from './ring.js';

// WebCrypto caps one call's output only by memory; chunks keep the buffer
// for a ViT-B head's adapters small.
const CHUNK_ELEMENTS = 1 << 18;

export async function expandMask(seed: Uint8Array<ArrayBuffer>, length: number): Promise<Float64Array> {
  if (seed.length !== 32) throw new RangeError('a mask seed is 32 bytes');
  const key = await crypto.subtle.importKey('raw', seed, 'AES-CTR', false, ['encrypt']);
  const out = new Float64Array(length);
  for (let start = 0; start < length; start += CHUNK_ELEMENTS) {
    const n = Math.min(CHUNK_ELEMENTS, length - start);
    const counter = new Uint8Array(16);
    // Block index of this chunk's first byte, big-endian in the counter's low 8 bytes.
    let block = (start * 6) / 16;
    for (let i = 15; i >= 8 && block > 0; i--) {
      counter[i] = block % 256;
      block = Math.floor(block / 256);
    }
    const stream = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-CTR', counter, length: 64 }, key, new Uint8Array(n * 6)),
    );
    for (let i = 0; i < n; i++) {
      const o = i * 6;
      const lo = stream[o] | (stream[o + 1] << 8) | (stream[o + 2] << 16);
      const hi = stream[o + 3] | (stream[o + 4] << 8) | (stream[o + 5] << 16);
      out[start + i] = (hi * 2 ** 24 + lo) % MODULUS;
    }
  }
  return out;
}
