import { attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';

/** y = log_softmax(x, axis): dx = g - exp(y) * sum(g, axis). */
export const logSoftmax: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const axis = attrInt(ctx.node, 'axis', -1);
    const total = e.reduceSum(g, [axis], true);
    return [e.sub(g, e.mul(e.op('Exp', [ctx.output(0)]), total))];
  },
};
