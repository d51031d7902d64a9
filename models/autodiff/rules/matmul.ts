import type { Emitter } from '../emitter.js';
import { broadcastDims, type Dim } from '../infer.js';
import type { GradRule } from '../rule.js';

/**
 * Y = A @ B with numpy batching: dA = g @ B^T, dB = A^T @ g, each summed over
 * the batch axes its operand was broadcast along. 1-D operands are promoted
 * the way MatMul promotes them and demoted afterwards. The common "weights"
 * case (B of rank 2 against a batched A) folds the batch into the contraction
 * with one Gemm instead of a batched product and a reduction.
 *
 * Batched products of Transpose outputs (attention) choose, per gradient,
 * between the product as written and its transpose (dA = (B g^T)^T,
 * dB = (g^T A)^T), whichever needs fewer and cheaper layout copies; see
 * chooseLayout.
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

    const layout =
      ra === rb && ra > 2 && aDims.slice(0, -2).every((d, i) => d !== null && d === bDims[i])
        ? chooseLayout(e, a, b, g, ra, ctx.wants(0), ctx.wants(1))
        : { a: false, b: false };

    let da: string | undefined;
    if (ctx.wants(0) && layout.a) {
      da = e.transposeLast2(e.matmul(b, e.transposeLast2(g, ra)), ra);
    } else if (ctx.wants(0)) {
      const prod = e.matmul(g2, e.transposeLast2(b2, b2Dims.length));
      const da2 = e.unbroadcast(prod, [...batch, m, k], a2, a2Dims);
      da = ra === 1 ? e.reshapeLike(da2, a, aDims) : da2;
    }
    let db: string | undefined;
    if (ctx.wants(1) && layout.b) {
      db = e.transposeLast2(e.matmul(e.transposeLast2(g, ra), a), ra);
    } else if (ctx.wants(1)) {
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
      db = rb === 1 ? e.reshapeLike(db2, b, bDims) : db2;
    }
    return [da, db];
  },
};

/**
 * Picks, for each operand gradient of a batched product, the plain form
 * (dA = g B^T, dB = A^T g) or the transposed one (dA = (B g^T)^T,
 * dB = (g^T A)^T) by the Transposes each would materialize on the runtime:
 * - a swap of the last two axes folds into the MatMul, unless its operand is
 *   itself a Transpose output; then the runtime merges the two Transposes
 *   into one real copy instead;
 * - the gradient of an operand made by a Transpose is transposed back by the
 *   Transpose rule, which composes with a swap on the transposed form;
 * - g is usually an emitted Transpose (attention's output gradient): its
 *   plain and swapped forms are each one copy from its source, made once
 *   however many products read them.
 * Copies are weighted by kind: moving the innermost axis, or an axis into the
 * innermost position, is a fast path on onnxruntime (about a third of the
 * cost of swapping two outer axes, which copies short rows one by one).
 */
function chooseLayout(
  e: Emitter,
  a: string,
  b: string,
  g: string,
  rank: number,
  wantA: boolean,
  wantB: boolean,
): { a: boolean; b: boolean } {
  const swap = Array.from({ length: rank }, (_, i) => (i < rank - 2 ? i : 2 * rank - 3 - i));
  const pa = e.transposedBy(a, rank);
  const pb = e.transposedBy(b, rank);
  const pg = e.transposedBy(g, rank);
  // [plain, transposed] cost of each gradient, g's own copies aside.
  const costA = [
    (pb ? copyCost(compose(pb, swap)) : 0) + (pa ? copyCost(invert(pa)) : 0),
    pa ? copyCost(compose(swap, invert(pa))) : copyCost(swap),
  ];
  const costB = [
    (pa ? copyCost(compose(pa, swap)) : 0) + (pb ? copyCost(invert(pb)) : 0),
    pb ? copyCost(compose(swap, invert(pb))) : copyCost(swap),
  ];
  let best = { cost: Number.POSITIVE_INFINITY, a: false, b: false };
  for (const la of wantA ? [0, 1] : [0]) {
    for (const lb of wantB ? [0, 1] : [0]) {
      const plainG = (wantA && la === 0) || (wantB && lb === 0);
      const swappedG = (wantA && la === 1) || (wantB && lb === 1);
      const gCost = pg ? (plainG ? copyCost(pg) : 0) + (swappedG ? copyCost(compose(pg, swap)) : 0) : 0;
      const cost = (wantA ? costA[la] : 0) + (wantB ? costB[lb] : 0) + gCost;
      // Ties keep the plain form.
      if (cost < best.cost) best = { cost, a: la === 1, b: lb === 1 };
    }
  }
  return best;
}

/** Transpose(Transpose(x, inner), outer) as one permutation of x. */
function compose(inner: readonly number[], outer: readonly number[]): number[] {
  return outer.map((k) => inner[k]);
}

function invert(perm: readonly number[]): number[] {
  const inverse: number[] = [];
  perm.forEach((p, i) => {
    inverse[p] = i;
  });
  return inverse;
}

/** 0 for no copy, 1 for moving the innermost axis or an axis to innermost, 3 otherwise. */
function copyCost(perm: readonly number[]): number {
  const last = perm.length - 1;
  if (perm.every((p, i) => p === i)) return 0;
  const increasing = (xs: number[]) => xs.every((v, i) => i === 0 || xs[i - 1] < v);
  const inwards = increasing(perm.slice(0, last));
  const outwards = increasing(perm.filter((p) => p !== last)) && perm[last] !== last;
  return inwards || outwards ? 1 : 3;
}
