import type { GradRule } from '../rule.js';

/** y = ln(x): dx = g / x. */
export const log: GradRule = {
  saves: { inputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    return [ctx.emit.div(ctx.grad(0)!, ctx.input(0))];
  },
};
