import type { GradRule } from '../rule.js';

/** Unsqueeze only changes the view: reshape g back to the input's run-time shape. */
export const unsqueeze: GradRule = {
  saves: { inputs: [0] },
  differentiable: [0],
  backward(ctx) {
    return [ctx.emit.reshapeLike(ctx.grad(0)!, ctx.input(0), ctx.inInfo(0).dims)];
  },
};
