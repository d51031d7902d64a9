// Fitting a batch to a larger model's input: bilinear resampling of each
// channel and, for a grey dataset fed to an RGB model, the grey channel
// repeated. The digits stay digits; a 224×224 ViT sees them at its own size.
import type { Batch } from './types.js';

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

function resample(src: Float32Array, h: number, w: number, dst: Float32Array, H: number, W: number): void {
  // Align centres of corner pixels, as torch's interpolate(align_corners=False) does.
  const sy = h / H;
  const sx = w / W;
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      const top = src[y0 * w + x0] * (1 - wx) + src[y0 * w + x1] * wx;
      const bottom = src[y1 * w + x0] * (1 - wx) + src[y1 * w + x1] * wx;
      dst[y * W + x] = top * (1 - wy) + bottom * wy;
    }
  }
}

/** The batch resampled to `to`; a one-channel batch is repeated into every channel. */
export function resizeBatch(batch: Batch, to: ImageShape): Batch {
  const [n, c, h, w] = batch.shape;
  if (c !== to.channels && c !== 1) {
    throw new RangeError(`cannot turn ${c} channels into ${to.channels}`);
  }
  const out = new Float32Array(n * to.channels * to.height * to.width);
  const plane = to.height * to.width;
  const channel = new Float32Array(plane);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < to.channels; k++) {
      const from = c === 1 ? 0 : k;
      const src = batch.pixels.subarray((i * c + from) * h * w, (i * c + from + 1) * h * w);
      resample(src, h, w, channel, to.height, to.width);
      out.set(channel, (i * to.channels + k) * plane);
    }
  }
  return { pixels: out, shape: [n, to.channels, to.height, to.width], labels: batch.labels };
}
