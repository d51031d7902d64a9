import type { GradRule } from '../rule.js';

/**
 * y = erf(x): dx = g * 2/sqrt(pi) * exp(-x^2). The constant goes into the
 * exponent, exp(ln(2/sqrt(pi)) - x^2), which saves a pass over x.
 */
export const erf: GradRule = {
  saves: { inputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const x = ctx.input(0);
    const local = e.op('Exp', [e.sub(e.scalar(Math.log(2 / Math.sqrt(Math.PI))), e.mul(x, x))]);
    return [e.mul(ctx.grad(0)!, local)];
  },
};
