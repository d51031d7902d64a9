import type { GradRule } from '../rule.js';
import { reduction, spreadReduction } from './common.js';

/** Each summed element receives the gradient of its sum. */
export const reduceSum: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: [0],
  backward(ctx) {
    const r = reduction(ctx, true);
    const g = ctx.grad(0)!;
    return [r.noop ? g : spreadReduction(ctx, r, g)];
  },
};
