import type { GradRule } from '../rule.js';

/** y = max(x, 0): g passes where y > 0 (the subgradient at 0 is 0, as in PyTorch). */
export const relu: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const positive = e.op('Greater', [ctx.output(0), e.scalar(0)]);
    return [e.op('Where', [positive, ctx.grad(0)!, e.scalar(0)])];
  },
};
