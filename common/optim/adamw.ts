// AdamW, torch.optim.AdamW semantics (amsgrad off), at step t:
//   p ← p·(1 − lr·wd)                                   (decoupled weight decay)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
import { type AdamWHyper, type AdamWOptions, resolveAdamW } from './hyper.js';
import { SlotOptimizer } from './optimizer.js';
import type { AdamWState } from './state.js';

export class AdamW extends SlotOptimizer<AdamWState> {
  readonly kind = 'adamw' as const;

  protected update(p: Float32Array, g: Float32Array, buffers: Record<string, Float32Array>, t: number): void {
    const { lr, beta1, beta2, eps, weightDecay } = this.h as AdamWHyper;
    buffers.exp_avg ??= new Float32Array(p.length);
    buffers.exp_avg_sq ??= new Float32Array(p.length);
    const m = buffers.exp_avg;
    const v = buffers.exp_avg_sq;
    const decay = 1 - lr * weightDecay;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      p[i] *= decay;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
    }
  }
}

export function adamw(options: AdamWOptions): AdamW {
  return new AdamW(resolveAdamW(options));
}
