import { attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';

/** y = softmax(x, axis) (opset >= 13 semantics): dx = y * (g - sum(g * y, axis)). */
export const softmax: GradRule = {
  saves: { outputs: [0] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const y = ctx.output(0);
    const axis = attrInt(ctx.node, 'axis', -1);
    const dot = e.reduceSum(e.mul(g, y), [axis], true);
    return [e.mul(y, e.sub(g, dot))];
  },
};
