// Activation noise, a device-side defence against reconstruction from the
// uplink: before the activation is quantized, each token (the last
// dimension) gets Gaussian noise of standard deviation σ times that token's
// own RMS, so every token is blurred in proportion to what it carries,
// whatever its scale. The server never sees the clean activation. One
// implementation for the SDK (inference and training) and the privacy
// measurements.
import { gaussian } from '../common/random.js';

/** σ as a share of each token's RMS: 0 is no noise; past 10 nothing of the token survives. */
export const MAX_TOKEN_NOISE = 10;

/** Adds the noise in place; `uniform` is a [0, 1) source (common/random.ts's cryptoUniform on devices, seeded in measurements). */
export function addTokenNoise(data: Float32Array, width: number, sigma: number, uniform: () => number): void {
  if (!(sigma >= 0 && sigma <= MAX_TOKEN_NOISE))
    throw new RangeError(`token noise ${sigma} is outside [0, ${MAX_TOKEN_NOISE}]`);
  if (sigma === 0) return;
  if (!(width > 0) || data.length % width !== 0)
    throw new RangeError(`a token width of ${width} does not divide ${data.length} values`);
  const normal = gaussian(uniform);
  for (let at = 0; at < data.length; at += width) {
    let ss = 0;
    for (let i = at; i < at + width; i++) ss += data[i] * data[i];
    const std = sigma * Math.sqrt(ss / width);
    for (let i = at; i < at + width; i++) data[i] += std * normal();
  }
}
