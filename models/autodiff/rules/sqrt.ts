import type { GradRule } from '../rule.js';

/** y = sqrt(x): dx = g / (2y). */
export const sqrt: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    return [e.div(e.mul(ctx.grad(0)!, e.scalar(0.5)), ctx.output(0))];
  },
};
