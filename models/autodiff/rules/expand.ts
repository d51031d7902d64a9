import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** Expand is an explicit broadcast: sum g back over the broadcast axes. */
export const expand: GradRule = {
  saves: { inputs: [0] },
  differentiable: [0],
  backward(ctx) {
    return [toInput(ctx, ctx.grad(0)!, 0)];
  },
};
