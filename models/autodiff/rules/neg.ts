import type { GradRule } from '../rule.js';

/** y = -x. */
export const neg: GradRule = {
  saves: {},
  differentiable: 'all',
  backward(ctx) {
    return [ctx.emit.neg(ctx.grad(0)!)];
  },
};
