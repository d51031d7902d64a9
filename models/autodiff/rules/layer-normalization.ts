import { attrInt } from '../../onnx/index.js';
import type { Dim } from '../infer.js';
import type { GradContext, GradRule } from '../rule.js';
import { normAxis, toInput } from './common.js';

/**
 * y = xhat * scale + bias, xhat = (x - mean) * invstd over axes [axis, rank).
 * Mean and InvStdDev are the forward node's optional outputs 1 and 2 (added to
 * it when absent): the forward kernel computes them anyway, and recomputing
 * them here cost four passes over x.
 *
 * With c = x - mean and dxhat = g * scale:
 *   dx     = invstd * (dxhat - mean(dxhat) - c * invstd^2 * mean(g * c * scale))
 *   dscale = sum over the leading axes of g * c * invstd
 *   dbias  = sum over the leading axes of g
 * xhat itself is never formed: g * c serves both dx and dscale, and the
 * normalized-axis sum weighted by scale and the leading-axis sum weighted by
 * invstd are matrix-vector products (when one axis of static width is
 * normalized), so no full-size product is written just to be reduced.
 *
 * Rows are independent, so when g is zero outside a block of leading
 * positions (a ViT head reads only the class token, and Gather pads its
 * gradient back into place) only that block is differentiated and padded.
 */
export const layerNormalization: GradRule = {
  saves: { inputs: [0, 1, 2], outputs: [1, 2] },
  differentiable: [0, 1, 2],
  backward(ctx) {
    if (ctx.grad(1) || ctx.grad(2))
      ctx.fail('gradients through the Mean/InvStdDev outputs are not supported');
    const e = ctx.emit;
    const rank = ctx.inRank(0);
    const axis = normAxis(attrInt(ctx.node, 'axis', -1), rank);
    const g = ctx.grad(0)!;
    const needsStats = ctx.wants(0) || ctx.wants(1);
    const padded = e.zeroPadded(g);
    if (padded && needsStats && padded.pads.every((p, i) => p === 0 || i % rank < axis)) {
      const begin = padded.pads.slice(0, rank);
      const end = padded.pads.slice(rank);
      const rows = (t: string) => {
        const axes = begin.map((_, i) => i).filter((i) => begin[i] !== 0 || end[i] !== 0);
        // Negative ends count from the end; an end pad of 0 keeps everything.
        const ends = axes.map((i) => (end[i] === 0 ? Number.MAX_SAFE_INTEGER : -end[i]));
        return e.op('Slice', [t, e.ints(axes.map((i) => begin[i])), e.ints(ends), e.ints(axes)]);
      };
      const dims = ctx
        .outInfo(0)
        .dims?.map(
          (d, i): Dim =>
            typeof d === 'number' ? d - begin[i] - end[i] : begin[i] === 0 && end[i] === 0 ? d : null,
        );
      const part = normalize(
        ctx,
        axis,
        padded.source,
        dims,
        rows(ctx.input(0)),
        rows(ctx.output(1)),
        rows(ctx.output(2)),
      );
      return [part.dx && e.op('Pad', [part.dx, e.ints(padded.pads)]), part.dscale, part.dbias];
    }
    const part = needsStats
      ? normalize(ctx, axis, g, ctx.outInfo(0).dims, ctx.input(0), ctx.output(1), ctx.output(2))
      : { dx: undefined, dscale: undefined, dbias: bias(ctx, g, ctx.outInfo(0).dims) };
    return [part.dx, part.dscale, part.dbias];
  },
};

function bias(ctx: GradContext, g: string, gDims: Dim[] | undefined): string | undefined {
  return ctx.wants(2) && ctx.hasInput(2) ? toInput(ctx, g, 2, gDims) : undefined;
}

function normalize(
  ctx: GradContext,
  axis: number,
  g: string,
  gDims: Dim[] | undefined,
  x: string,
  mean: string,
  invstd: string,
): { dx?: string; dscale?: string; dbias?: string } {
  const e = ctx.emit;
  const rank = ctx.inRank(0);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const width = ctx.inInfo(0).dims?.[rank - 1];
  const vector = axes.length === 1 && typeof width === 'number' && ctx.inInfo(1).dims?.length === 1;
  const centered = e.sub(x, mean);
  const gc = e.mul(g, centered);
  let dx: string | undefined;
  if (ctx.wants(0)) {
    const scale = ctx.input(1);
    const dxhat = e.mul(g, scale);
    const m1 = e.reduceMean(dxhat, axes, true);
    const dot = vector
      ? e.matmul(gc, e.unsqueeze(e.mul(scale, e.scalar(1 / (width as number))), [1]))
      : e.reduceMean(e.mul(gc, scale), axes, true);
    const coef = e.mul(e.mul(invstd, invstd), dot);
    dx = e.mul(invstd, e.sub(e.sub(dxhat, m1), e.mul(centered, coef)));
  }
  let dscale: string | undefined;
  if (ctx.wants(1)) {
    dscale = vector
      ? e.reshape(
          e.op('Gemm', [e.reshape(gc, e.ints([-1, width as number])), e.reshape(invstd, e.ints([-1, 1]))], {
            transA: 1,
          }),
          e.ints([width as number]),
        )
      : toInput(ctx, e.mul(gc, invstd), 1, gDims);
  }
  return { dx, dscale, dbias: bias(ctx, g, gDims) };
}
