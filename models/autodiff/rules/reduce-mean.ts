import { numel } from '../infer.js';
import type { GradRule } from '../rule.js';
import { normAxis, reduction, spreadReduction } from './common.js';

/**
 * Each averaged element receives its mean's gradient divided by the count.
 * Axes are an attribute before opset 18 and an input from 18 on.
 */
export const reduceMean: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: [0],
  backward(ctx) {
    const e = ctx.emit;
    const r = reduction(ctx, ctx.opset >= 18);
    const g = ctx.grad(0)!;
    if (r.noop) return [g];
    const dims = ctx.inInfo(0).dims;
    let count: number | undefined;
    if (dims && r.all) count = numel(dims);
    else if (dims && r.axes) count = numel(r.axes.map((a) => dims[normAxis(a, dims.length)]));
    // Without static dims: |x| / |y|, and g has y's shape.
    const scale = count !== undefined ? e.scalar(1 / count) : e.div(e.countF(g), e.countF(ctx.input(0)));
    return [spreadReduction(ctx, r, e.mul(g, scale))];
  },
};
