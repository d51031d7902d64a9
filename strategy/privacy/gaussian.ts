// The DP noise's randomness. The coordinator draws from a CSPRNG; the
// baseline simulator passes a seeded uniform so its runs repeat. Normal draws
// come from common/random.ts's Box–Muller over either source.
import { gaussian } from '../../common/random.js';

/** A uniform draw in [0, 1). */
export type Uniform = () => number;

/** A uniform source backed by crypto.getRandomValues, refilled in blocks. */
export function cryptoUniform(): Uniform {
  const block = new Uint32Array(1024);
  let at = block.length;
  return () => {
    if (at + 2 > block.length) {
      crypto.getRandomValues(block);
      at = 0;
    }
    // 53 random bits: the full precision of a double in [0, 1).
    const hi = block[at++] >>> 5;
    const lo = block[at++] >>> 6;
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  };
}

/** Standard normal draws over `uniform`; one stream per aggregation, so slicing a tensor draws the same values. */
export const normalStream = (uniform: Uniform): (() => number) => gaussian(uniform);

/** Adds `std` times the next standard normal draw to every element of `out`, in order. */
export function addGaussian(out: Float64Array, std: number, normal: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] += std * normal();
}
