// How close a reconstruction is to the original image: PSNR and SSIM on
// [0, 1] pixels. SSIM is Wang et al.'s (11 × 11 Gaussian window, σ 1.5,
// K1 0.01, K2 0.03) computed by ssim.js on the 8-bit images.
import { ssim } from 'ssim.js';

/** Peak signal-to-noise ratio in dB for pixels in [0, 1] (∞ for identical images, capped at 200). */
export function psnr(original: ArrayLike<number>, reconstructed: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < original.length; i++) se += (original[i] - reconstructed[i]) ** 2;
  const mse = se / original.length;
  return mse === 0 ? 200 : Math.min(200, 10 * Math.log10(1 / mse));
}

/** A grey [0, 1] image as the RGBA bytes ssim.js reads. */
function rgba(pixels: ArrayLike<number>, width: number, height: number) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const v = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
    data.set([v, v, v, 255], i * 4);
  }
  return { data, width, height };
}

/** Structural similarity of two grey [0, 1] images (1 = identical). */
export function ssimOf(
  original: ArrayLike<number>,
  reconstructed: ArrayLike<number>,
  width: number,
  height: number,
): number {
  return ssim(rgba(original, width, height), rgba(reconstructed, width, height), {
    ssim: 'original',
    downsample: false,
    windowSize: 11,
  }).mssim;
}

export interface Leakage {
  psnr_db: number;
  ssim: number;
}

/** Mean PSNR and SSIM over images laid end to end (n × width × height, [0, 1]). */
export function leakage(
  originals: Float32Array,
  reconstructions: Float32Array,
  width: number,
  height: number,
): Leakage {
  const size = width * height;
  const n = originals.length / size;
  let p = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const a = originals.subarray(i * size, (i + 1) * size);
    const b = reconstructions.subarray(i * size, (i + 1) * size);
    p += psnr(a, b);
    s += ssimOf(a, b, width, height);
  }
  return { psnr_db: p / n, ssim: s / n };
}
