import type { GradRule } from '../rule.js';

/** y = tanh(x): dx = g * (1 - y^2). */
export const tanh: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const y = ctx.output(0);
    return [e.mul(ctx.grad(0)!, e.sub(e.scalar(1), e.mul(y, y)))];
  },
};
