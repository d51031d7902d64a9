import { sliceIndices } from '../infer.js';
import type { GradContext, GradRule } from '../rule.js';
import { normAxis, replaceDim, scatterAlong } from './common.js';

/**
 * Puts g back where the slice came from, zeros elsewhere. Unit steps (the
 * common case) become one Pad; other steps scatter along each sliced axis.
 * Starts and ends may be computed at run time (exporters derive them from
 * Shape); axes and steps must be static.
 */
export const slice: GradRule = {
  saves: { inputs: [0, 1, 2, 3, 4] },
  differentiable: [0],
  backward(ctx) {
    const rank = ctx.inRank(0);
    const count = ctx.inInfo(1).dims?.[0];
    if (typeof count !== 'number') return ctx.fail('cannot infer how many axes are sliced');
    const axes = ctx.hasInput(3) ? ctx.ints(3) : Array.from({ length: count }, (_, i) => i);
    if (!axes) return ctx.fail('Slice axes must be constant to differentiate');
    const steps = ctx.hasInput(4) ? ctx.ints(4) : axes.map(() => 1);
    if (!steps) return ctx.fail('Slice steps must be constant to differentiate');
    const norm = axes.map((a) => normAxis(a, rank));
    if (steps.every((s) => s === 1)) return [padBack(ctx, norm, rank)];
    let cur = ctx.grad(0)!;
    norm.forEach((axis, k) => {
      const idx = selected(ctx, axis, k, steps[k]);
      const target = replaceDim(ctx, cur, axis, rank, ctx.emit.dim(ctx.input(0), axis));
      cur = scatterAlong(ctx, cur, idx, axis, rank, target);
    });
    return [cur];
  },
};

/** Int64 1-D indices the slice selects along one axis, statically when possible. */
function selected(ctx: GradContext, axis: number, k: number, step: number): string {
  const e = ctx.emit;
  const d = ctx.inInfo(0).dims?.[axis];
  const starts = ctx.ints(1);
  const ends = ctx.ints(2);
  if (typeof d === 'number' && starts && ends) return e.ints(sliceIndices(d, starts[k], ends[k], step));
  // Slicing a Range applies exactly the op's own clamping rules at run time.
  const size = e.op('Gather', [e.shape(ctx.input(0)), e.int(axis)], { axis: 0 });
  const positions = e.op('Range', [e.int(0), size, e.int(1)]);
  const pick = (i: number) => e.op('Gather', [ctx.input(i), e.ints([k])], { axis: 0 });
  return e.op('Slice', [positions, pick(1), pick(2), e.ints([0]), e.ints([step])]);
}

function padBack(ctx: GradContext, axes: number[], rank: number): string {
  const e = ctx.emit;
  const begin: Array<number | string> = Array(rank).fill(0);
  const end: Array<number | string> = Array(rank).fill(0);
  const starts = ctx.ints(1);
  const ends = ctx.ints(2);
  axes.forEach((axis, k) => {
    const d = ctx.inInfo(0).dims?.[axis];
    if (typeof d === 'number' && starts && ends) {
      const idx = sliceIndices(d, starts[k], ends[k], 1);
      const first = idx.length > 0 ? idx[0] : d;
      begin[axis] = first;
      end[axis] = d - first - idx.length;
      return;
    }
    const idx = selected(ctx, axis, k, 1);
    const size = e.dim(ctx.input(0), axis);
    // min over idx ∪ {size}: the first selected index, or size for an empty slice.
    const first = e.op('ReduceMin', [e.op('Concat', [idx, size], { axis: 0 })], { keepdims: 1 });
    const taken = e.reshape(e.op('Size', [idx]), e.ints([1]));
    begin[axis] = first;
    end[axis] = e.sub(e.sub(size, first), taken);
  });
  const all = [...begin, ...end];
  const pads = all.every((p) => typeof p === 'number')
    ? e.ints(all as number[])
    : e.op(
        'Concat',
        all.map((p) => (typeof p === 'number' ? e.ints([p]) : p)),
        { axis: 0 },
      );
  return e.op('Pad', [ctx.grad(0)!, pads]);
}
