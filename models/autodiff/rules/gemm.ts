import { attrFloat, attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';
import { toInput } from './common.js';

/**
 * y = alpha * op(A) op(B) + beta * C. Each gradient is itself one Gemm whose
 * transpose flags absorb op(), so no Transpose nodes are emitted.
 */
export const gemm: GradRule = {
  saves: { inputs: [0, 1, 2] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const a = ctx.input(0);
    const b = ctx.input(1);
    const ta = attrInt(ctx.node, 'transA', 0);
    const tb = attrInt(ctx.node, 'transB', 0);
    const alpha = { float: attrFloat(ctx.node, 'alpha', 1) };
    const beta = attrFloat(ctx.node, 'beta', 1);
    const da = !ctx.wants(0)
      ? undefined
      : ta === 0
        ? e.op('Gemm', [g, b], { transA: 0, transB: 1 - tb, alpha })
        : e.op('Gemm', [b, g], { transA: tb, transB: 1, alpha });
    const db = !ctx.wants(1)
      ? undefined
      : tb === 0
        ? e.op('Gemm', [a, g], { transA: 1 - ta, transB: 0, alpha })
        : e.op('Gemm', [g, a], { transA: 1, transB: ta, alpha });
    let dc: string | undefined;
    if (ctx.wants(2) && ctx.hasInput(2)) {
      dc = toInput(ctx, beta === 1 ? g : e.mul(g, e.scalar(beta)), 2);
    }
    return [da, db, dc];
  },
};
