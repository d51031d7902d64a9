// The DP noise's randomness. The coordinator draws from a CSPRNG; the
// baseline simulator passes a seeded uniform so its runs repeat. Normal draws
// come from common/random.ts's Box–Muller over either source.
import { cryptoUniform, gaussian } from '../../common/random.js';

/** A uniform draw in [0, 1). */
export type Uniform = () => number;

export { cryptoUniform };

/** Standard normal draws over `uniform`; one stream per aggregation, so slicing a tensor draws the same values. */
export const normalStream = (uniform: Uniform): (() => number) => gaussian(uniform);

/** Adds `std` times the next standard normal draw to every element of `out`, in order. */
export function addGaussian(out: Float64Array, std: number, normal: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] += std * normal();
}
