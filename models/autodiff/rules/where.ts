import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** y = cond ? a : b: each branch gets g where it was chosen, zero elsewhere. */
export const where: GradRule = {
  saves: { inputs: [0, 1, 2] },
  differentiable: [1, 2],
  backward(ctx) {
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const cond = ctx.input(0);
    const zero = e.scalar(0);
    return [
      undefined,
      ctx.wants(1) ? toInput(ctx, e.op('Where', [cond, g, zero]), 1) : undefined,
      ctx.wants(2) ? toInput(ctx, e.op('Where', [cond, zero, g]), 2) : undefined,
    ];
  },
};
