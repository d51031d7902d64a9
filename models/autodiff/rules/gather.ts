import { attrInt } from '../../onnx/index.js';
import type { GradContext, GradRule } from '../rule.js';
import { normAxis, scatterAlong } from './common.js';

/**
 * Scatter-adds g into zeros at the gathered positions (ScatterElements with
 * reduction "add", so repeated indices accumulate). Cost is linear in g,
 * unlike a one-hot MatMul, which matters for embedding tables.
 *
 * Constant indices that pick one contiguous ascending run (a ViT's class
 * token: index 0 on the token axis) need no scatter: padding g with zeros
 * along the axis puts it in place, a plain copy instead of an element-wise
 * scatter into a zeroed tensor.
 */
export const gather: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: [0],
  backward(ctx) {
    const e = ctx.emit;
    const rank = ctx.inRank(0);
    const q = ctx.inRank(1);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
    const g = ctx.grad(0)!;
    const padded = padBack(ctx, g, axis, rank, q);
    if (padded) return [padded];
    const x = ctx.input(0);
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

/** g padded back into place, when the indices are a constant ascending run on an axis of static size. */
function padBack(ctx: GradContext, g: string, axis: number, rank: number, q: number): string | undefined {
  const size = ctx.inInfo(0).dims?.[axis];
  const indices = q <= 1 ? ctx.ints(1) : undefined;
  if (typeof size !== 'number' || !indices || indices.length === 0) return undefined;
  const run = indices.map((i) => (i < 0 ? i + size : i));
  if (run.some((i, k) => i !== run[0] + k || i < 0 || i >= size)) return undefined;
  const e = ctx.emit;
  const pads = Array<number>(2 * rank).fill(0);
  pads[axis] = run[0];
  pads[rank + axis] = size - run[0] - run.length;
  return e.op('Pad', [q === 0 ? e.unsqueeze(g, [axis]) : g, e.ints(pads)]);
}
