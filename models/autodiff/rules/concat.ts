import { attrInt } from '../../onnx/index.js';
import type { GradRule } from '../rule.js';
import { normAxis } from './common.js';

/** Splits g back into the pieces along the concatenation axis. */
export const concat: GradRule = {
  saves: { inputs: 'all' },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const axis = attrInt(ctx.node, 'axis');
    const n = ctx.node.input?.length ?? 0;
    const sizes = Array.from({ length: n }, (_, i) => {
      const dims = ctx.inInfo(i).dims;
      const d = dims ? dims[normAxis(axis, dims.length)] : null;
      return typeof d === 'number' ? d : null;
    });
    const split = sizes.every((d) => d !== null)
      ? e.ints(sizes as number[])
      : e.op(
          'Concat',
          sizes.map((d, i) => (d !== null ? e.ints([d]) : e.dim(ctx.input(i), axis))),
          { axis: 0 },
        );
    const pieces = e.node('Split', [ctx.grad(0)!, split], { axis }, n);
    return pieces.map((p, i) => (ctx.wants(i) ? p : undefined));
  },
};
