import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** y = a * b: da = g * b, db = g * a, each reduced to its own shape. */
export const mul: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    const e = ctx.emit;
    return [
      ctx.wants(0) ? toInput(ctx, e.mul(g, ctx.input(1)), 0) : undefined,
      ctx.wants(1) ? toInput(ctx, e.mul(g, ctx.input(0)), 1) : undefined,
    ];
  },
};
