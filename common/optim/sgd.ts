// SGD with momentum, torch.optim.SGD semantics (dampening 0):
//   g ← g + wd·p                       (coupled weight decay)
//   b ← g on a parameter's first step, else b ← μ·b + g
//   d ← g + μ·b if nesterov, else b    (d ← g without momentum)
//   p ← p − lr·d
import { resolveSgd, type SgdHyper, type SgdOptions } from './hyper.js';
import { SlotOptimizer } from './optimizer.js';
import type { SgdState } from './state.js';

export class Sgd extends SlotOptimizer<SgdState> {
  readonly kind = 'sgd' as const;

  protected update(
    p: Float32Array,
    g: Float32Array,
    buffers: Record<string, Float32Array>,
    _t: number,
  ): void {
    const { lr, momentum: mu, weightDecay: wd, nesterov } = this.h as SgdHyper;
    if (mu === 0) {
      for (let i = 0; i < p.length; i++) p[i] -= lr * (g[i] + wd * p[i]);
      return;
    }
    const first = buffers.momentum_buffer === undefined;
    buffers.momentum_buffer ??= new Float32Array(p.length);
    const b = buffers.momentum_buffer;
    for (let i = 0; i < p.length; i++) {
      const d = g[i] + wd * p[i];
      b[i] = first ? d : mu * b[i] + d;
      // Read back the stored (float32) buffer, as torch does, before using it.
      p[i] -= lr * (nesterov ? d + mu * b[i] : b[i]);
    }
  }
}

export function sgd(options: SgdOptions): Sgd {
  return new Sgd(resolveSgd(options));
}
