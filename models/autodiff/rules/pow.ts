import type { GradRule } from '../rule.js';
import { scalarConstant, toInput } from './common.js';

/**
 * y = x ^ p: dx = g * p * x^(p-1); dp = g * y * ln(x). A constant exponent
 * (LayerNorm's x^2 in exported graphs) gets the cheap closed form.
 */
export const pow: GradRule = {
  saves: { inputs: [0, 1], outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    const e = ctx.emit;
    const x = ctx.input(0);
    let dx: string | undefined;
    if (ctx.wants(0)) {
      const p = scalarConstant(ctx, 1);
      let local: string;
      if (p === 2) local = e.mul(x, e.scalar(2));
      else if (p === 1) local = e.scalar(1);
      else if (p !== undefined) local = e.mul(e.op('Pow', [x, e.scalar(p - 1)]), e.scalar(p));
      else {
        const pt = ctx.input(1);
        local = e.mul(e.op('Pow', [x, e.sub(pt, e.scalar(1))]), pt);
      }
      dx = toInput(ctx, e.mul(g, local), 0);
    }
    const dp = ctx.wants(1) ? toInput(ctx, e.mul(e.mul(g, ctx.output(0)), e.op('Log', [x])), 1) : undefined;
    return [dx, dp];
  },
};
