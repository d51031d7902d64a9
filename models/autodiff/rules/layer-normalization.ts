import { attrFloat, attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/**
 * y = xhat * scale + bias, xhat = (x - mean) * invstd over axes [axis, rank).
 * Mean and invstd are recomputed rather than read from the forward node, so
 * the forward graph stays exactly as exported.
 * dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * scale.
 */
export const layerNormalization: GradRule = {
  saves: { inputs: [0, 1, 2] },
  differentiable: [0, 1, 2],
  backward(ctx) {
    if (ctx.grad(1) || ctx.grad(2))
      ctx.fail('gradients through the Mean/InvStdDev outputs are not supported');
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const axis = attrInt(ctx.node, 'axis', -1);
    const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
    const axes =
      axis < 0
        ? Array.from({ length: -axis }, (_, i) => axis + i)
        : Array.from({ length: ctx.inRank(0) - axis }, (_, i) => axis + i);
    const x = ctx.input(0);
    const centered = e.sub(x, e.reduceMean(x, axes, true));
    const variance = e.reduceMean(e.mul(centered, centered), axes, true);
    const invstd = e.op('Reciprocal', [e.op('Sqrt', [e.add(variance, e.scalar(eps))])]);
    const xhat = e.mul(centered, invstd);
    let dx: string | undefined;
    if (ctx.wants(0)) {
      const dxhat = e.mul(g, ctx.input(1));
      const m1 = e.reduceMean(dxhat, axes, true);
      const m2 = e.reduceMean(e.mul(dxhat, xhat), axes, true);
      dx = e.mul(invstd, e.sub(e.sub(dxhat, m1), e.mul(xhat, m2)));
    }
    return [
      dx,
      ctx.wants(1) ? toInput(ctx, e.mul(g, xhat), 1) : undefined,
      ctx.wants(2) && ctx.hasInput(2) ? toInput(ctx, g, 2) : undefined,
    ];
  },
};
