import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** y = a / b: da = g / b, db = -g * y / b (reusing y saves recomputing a / b^2). */
export const div: GradRule = {
  saves: { inputs: [0, 1], outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    const e = ctx.emit;
    const b = ctx.input(1);
    return [
      ctx.wants(0) ? toInput(ctx, e.div(g, b), 0) : undefined,
      ctx.wants(1) ? toInput(ctx, e.neg(e.div(e.mul(g, ctx.output(0)), b)), 1) : undefined,
    ];
  },
};
