import type { GradRule } from '../rule.js';
import { scalarConstant, toInput } from './common.js';

/**
 * y = a / b: da = g / b, db = -g * y / b (reusing y saves recomputing a / b^2).
 * A constant scalar divisor (GELU's sqrt 2) becomes a product with its
 * reciprocal, the cheaper kernel.
 */
export const div: GradRule = {
  saves: { inputs: [0, 1], outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    const e = ctx.emit;
    const b = ctx.input(1);
    const divisor = scalarConstant(ctx, 1);
    const quotient = () =>
      divisor !== undefined && Number.isFinite(1 / divisor) ? e.mul(g, e.scalar(1 / divisor)) : e.div(g, b);
    return [
      ctx.wants(0) ? toInput(ctx, quotient(), 0) : undefined,
      ctx.wants(1) ? toInput(ctx, e.neg(e.div(e.mul(g, ctx.output(0)), b)), 1) : undefined,
    ];
  },
};
