import { attrString } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';

/**
 * y = x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2 (exact GELU):
 * dx = g * (Phi(x) + x * phi(x)) = (g / 2) * (A + x * 2 phi(x)), A = 1 + erf(u), u = x / sqrt 2,
 * 2 phi(x) = exp(ln(2 / sqrt(2 pi)) - u^2).
 *
 * The composite node patterns.ts folds from the exporters' five-node chain
 * carries u and A as outputs 1 and 2, so nothing is recomputed: six passes.
 * The halving sits on g, where the runtime folds it into the MatMul that
 * produced g (the next layer's input gradient). ONNX's own Gelu (opset 20)
 * has no such outputs; u and A are then recomputed.
 */
export const gelu: GradRule = {
  saves: { inputs: [0], outputs: [1, 2] },
  differentiable: [0],
  backward(ctx) {
    const e = ctx.emit;
    if (attrString(ctx.node, 'approximate', 'none') !== 'none')
      ctx.fail('only exact GELU (approximate = "none") is supported');
    const x = ctx.input(0);
    const saved = (ctx.node.output?.length ?? 0) >= 3;
    const u = saved ? ctx.output(1) : e.mul(x, e.scalar(Math.SQRT1_2));
    const a = saved ? ctx.output(2) : e.add(e.op('Erf', [u]), e.scalar(1));
    const twoPhi = e.op('Exp', [e.sub(e.scalar(Math.log(2 / Math.sqrt(2 * Math.PI))), e.mul(u, u))]);
    const twice = e.add(a, e.mul(x, twoPhi));
    return [e.mul(e.mul(ctx.grad(0)!, e.scalar(0.5)), twice)];
  },
};
