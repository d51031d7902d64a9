import type { GradRule } from '../rule.js';

/** y = exp(x): dx = g * y. */
export const exp: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    return [ctx.emit.mul(ctx.grad(0)!, ctx.output(0))];
  },
};
