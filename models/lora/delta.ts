// W + scale·B·A computed on the host, in W's own layout: what the injected
// nodes compute, for folding trained adapters back into plain weights.
import type { LoraRecord } from './metadata.js';

export type DeltaShape = Pick<LoraRecord, 'rank' | 'inDim' | 'outDim' | 'layout' | 'scale'>;

/** Returns a new array W' (float64 accumulation, rounded once to float32). */
export function mergedWeight(w: Float32Array, a: Float32Array, b: Float32Array, s: DeltaShape): Float32Array {
  const { rank, inDim, outDim, layout, scale } = s;
  if (w.length !== inDim * outDim || a.length !== rank * inDim || b.length !== outDim * rank) {
    throw new Error(
      `LoRA merge: sizes W ${w.length}, A ${a.length}, B ${b.length} do not fit rank ${rank}, ${inDim} → ${outDim}`,
    );
  }
  const out = new Float32Array(w.length);
  for (let o = 0; o < outDim; o++) {
    for (let i = 0; i < inDim; i++) {
      let ba = 0;
      for (let k = 0; k < rank; k++) ba += b[o * rank + k] * a[k * inDim + i];
      const idx = layout === 'out_in' ? o * inDim + i : i * outDim + o;
      out[idx] = w[idx] + scale * ba;
    }
  }
  return out;
}
