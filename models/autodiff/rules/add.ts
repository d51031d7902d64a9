import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/** y = a + b, broadcasting: each side gets g summed over the axes it was broadcast along. */
export const add: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: 'all',
  backward(ctx) {
    const g = ctx.grad(0)!;
    return [0, 1].map((i) => (ctx.wants(i) ? toInput(ctx, g, i) : undefined));
  },
};
