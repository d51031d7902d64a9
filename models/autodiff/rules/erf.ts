import type { GradRule } from '../rule.js';

/** y = erf(x): dx = g * 2/sqrt(pi) * exp(-x^2). */
export const erf: GradRule = {
  saves: { inputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const x = ctx.input(0);
    const local = e.mul(e.op('Exp', [e.neg(e.mul(x, x))]), e.scalar(2 / Math.sqrt(Math.PI)));
    return [e.mul(ctx.grad(0)!, local)];
  },
};
