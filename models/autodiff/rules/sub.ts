import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** y = a - b. */
export const sub: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    return [
      ctx.wants(0) ? toInput(ctx, g, 0) : undefined,
      ctx.wants(1) ? toInput(ctx, ctx.emit.neg(g), 1) : undefined,
    ];
  },
};
