import { broadcastDims, type Dim } from '../infer.js';
import type { GradRule } from '../rule.js';

/**
 * Y = A @ B with numpy batching: dA = g @ B^T, dB = A^T @ g, each summed over
 * the batch axes its operand was broadcast along. 1-D operands are promoted
 * the way MatMul promotes them and demoted afterwards. The common "weights"
 * case (B of rank 2 against a batched A) folds the batch into the contraction
 * with one Gemm instead of a batched product and a reduction.
 */
export const matmul: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const g = ctx.grad(0)!;
    const a = ctx.input(0);
    const b = ctx.input(1);
    const ra = ctx.inRank(0);
    const rb = ctx.inRank(1);
    const aDims: Dim[] = ctx.inInfo(0).dims!;
    const bDims: Dim[] = ctx.inInfo(1).dims!;
    const a2 = ra === 1 ? e.unsqueeze(a, [0]) : a;
    const b2 = rb === 1 ? e.unsqueeze(b, [1]) : b;
    const a2Dims = ra === 1 ? [1, ...aDims] : aDims;
    const b2Dims = rb === 1 ? [...bDims, 1] : bDims;
    let g2 = g;
    if (ra === 1 && rb === 1) g2 = e.unsqueeze(g, [0, 1]);
    else if (ra === 1) g2 = e.unsqueeze(g, [-2]);
    else if (rb === 1) g2 = e.unsqueeze(g, [-1]);
    const batch = broadcastDims(a2Dims.slice(0, -2), b2Dims.slice(0, -2));
    const m = a2Dims[a2Dims.length - 2];
    const k = a2Dims[a2Dims.length - 1];
    const n = b2Dims[b2Dims.length - 1];

    let da: string | undefined;
    if (ctx.wants(0)) {
      const prod = e.matmul(g2, e.transposeLast2(b2, b2Dims.length));
      const da2 = e.unbroadcast(prod, [...batch, m, k], a2, a2Dims);
      da = ra === 1 ? e.reshapeLike(da2, a) : da2;
    }
    let db: string | undefined;
    if (ctx.wants(1)) {
      let db2: string;
      if (b2Dims.length === 2 && a2Dims.length > 2) {
        const rows = (x: string, last: Dim, lastAxisOf: string) =>
          e.reshape(
            x,
            typeof last === 'number'
              ? e.ints([-1, last])
              : e.op('Concat', [e.ints([-1]), e.dim(lastAxisOf, -1)], { axis: 0 }),
          );
        db2 = e.op('Gemm', [rows(a2, k, a2), rows(g2, n, b2)], { transA: 1 });
      } else {
        const prod = e.matmul(e.transposeLast2(a2, a2Dims.length), g2);
        db2 = e.unbroadcast(prod, [...batch, k, n], b2, b2Dims);
      }
      db = rb === 1 ? e.reshapeLike(db2, b) : db2;
    }
    return [da, db];
  },
};
