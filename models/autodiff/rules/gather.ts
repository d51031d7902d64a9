import { attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';
import { normAxis, scatterAlong } from './common.js';

/**
 * Scatter-adds g into zeros at the gathered positions (ScatterElements with
 * reduction "add", so repeated indices accumulate). Cost is linear in g,
 * unlike a one-hot MatMul, which matters for embedding tables.
 */
export const gather: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: [0],
  backward(ctx) {
    const e = ctx.emit;
    const rank = ctx.inRank(0);
    const q = ctx.inRank(1);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
    const x = ctx.input(0);
    const g = ctx.grad(0)!;
    let flat: string;
    if (q === 1) flat = g;
    else if (q === 0) flat = e.unsqueeze(g, [axis]);
    else {
      // Collapse the index dims of g into one axis at `axis`.
      const s = e.shape(x);
      const parts: string[] = [];
      if (axis > 0) parts.push(e.op('Slice', [s, e.ints([0]), e.ints([axis])]));
      parts.push(e.ints([-1]));
      if (axis < rank - 1) parts.push(e.op('Slice', [s, e.ints([axis + 1]), e.ints([rank])]));
      flat = e.reshape(g, parts.length === 1 ? parts[0] : e.op('Concat', parts, { axis: 0 }));
    }
    const idx = q === 1 ? ctx.input(1) : e.reshape(ctx.input(1), e.ints([-1]));
    return [scatterAlong(ctx, flat, idx, axis, rank, e.shape(x))];
  },
};
