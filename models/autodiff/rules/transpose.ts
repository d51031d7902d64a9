import { attrInts } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';

/** Transposes g by the inverse permutation. */
export const transpose: GradRule = {
  saves: {},
  differentiable: 'all',
  backward(ctx) {
    const rank = ctx.inRank(0);
    const perm = attrInts(
      ctx.node,
      'perm',
      Array.from({ length: rank }, (_, i) => rank - 1 - i),
    );
    const inverse: number[] = [];
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [ctx.emit.transpose(ctx.grad(0)!, inverse)];
  },
};
