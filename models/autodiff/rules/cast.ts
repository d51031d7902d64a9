import { isFloatType } from '../infer.js';
import type { GradRule } from '../rule.js';

/** Float-to-float casts pass the gradient through, cast back to the input's type. */
export const cast: GradRule = {
  saves: {},
  differentiable: 'all',
  backward(ctx) {
    const from = ctx.inInfo(0).elemType;
    const to = ctx.outInfo(0).elemType;
    if (!isFloatType(from) || !isFloatType(to)) ctx.fail('only float-to-float Cast is differentiable');
    const g = ctx.grad(0)!;
    return [from === to ? g : ctx.emit.op('Cast', [g], { to: from! })];
  },
};
