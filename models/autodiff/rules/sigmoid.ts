import type { GradRule } from '../rule.js';

/** y = sigmoid(x): dx = g * y * (1 - y). */
export const sigmoid: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const y = ctx.output(0);
    return [e.mul(ctx.grad(0)!, e.mul(y, e.sub(e.scalar(1), y)))];
  },
};
