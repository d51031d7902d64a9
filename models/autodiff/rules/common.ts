import { attrInt, attrInts, hasAttr, toTensorProto } from '../../onnx/index.js';
import type { Dim } from '../infer.js';
import type { GradContext } from '../rule.js';

/** Reduces g (shaped like output 0 unless gDims says otherwise) to the shape of input i. */
export function toInput(
  ctx: GradContext,
  g: string,
  i: number,
  gDims: Dim[] | undefined = ctx.outInfo(0).dims,
): string {
  return ctx.emit.unbroadcast(g, gDims, ctx.input(i), ctx.inInfo(i).dims);
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The single scalar value of a constant input, if it is one. */
export function scalarConstant(ctx: GradContext, i: number): number | undefined {
  const c = ctx.constant(i);
  if (c?.data.length !== 1) return undefined;
  return Number(c.data[0]);
}

export interface Reduction {
  /** Reduced axes, statically known; undefined with `axesTensor` set when only known at run time. */
  axes?: number[];
  axesTensor?: string;
  /** Every axis is reduced (no axes given). */
  all: boolean;
  /** noop_with_empty_axes with no axes: the op is the identity. */
  noop: boolean;
  keepdims: boolean;
}

/** Reads a Reduce* node's axes from its attribute or (newer opsets) its second input. */
export function reduction(ctx: GradContext, axesAsInput: boolean): Reduction {
  const keepdims = attrInt(ctx.node, 'keepdims', 1) === 1;
  const noopEmpty = attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1;
  if (axesAsInput) {
    if (ctx.hasInput(1)) {
      const axes = ctx.ints(1);
      if (axes === undefined) return { axesTensor: ctx.input(1), all: false, noop: false, keepdims };
      if (axes.length > 0) return { axes, all: false, noop: false, keepdims };
    }
    return { all: !noopEmpty, noop: noopEmpty, keepdims };
  }
  if (hasAttr(ctx.node, 'axes'))
    return { axes: attrInts(ctx.node, 'axes'), all: false, noop: false, keepdims };
  return { all: true, noop: false, keepdims };
}

/** Broadcasts a reduction's output gradient back over the reduced axes of input 0. */
export function spreadReduction(ctx: GradContext, r: Reduction, g: string): string {
  const e = ctx.emit;
  let gk = g;
  if (!r.keepdims && !r.all) {
    // Negative axes in Unsqueeze count from the end of the unsqueezed shape,
    // which is the input's rank: the forward axes carry over unchanged.
    gk = r.axes ? e.unsqueeze(g, r.axes) : e.op('Unsqueeze', [g, r.axesTensor!]);
  }
  // gk already has x's extent on every kept axis, where Expand may say 1; so a
  // constant target serves unless a reduced axis has no static size.
  const dims = ctx.inInfo(0).dims;
  const rank = dims?.length ?? 0;
  const reduced = new Set(r.all ? dims?.map((_, i) => i) : r.axes?.map((a) => normAxis(a, rank)));
  const target =
    dims && (r.all || r.axes) && dims.every((d, i) => typeof d === 'number' || !reduced.has(i))
      ? e.ints(dims.map((d) => (typeof d === 'number' ? d : 1)))
      : e.shape(ctx.input(0));
  return e.op('Expand', [gk, target]);
}

/**
 * Scatters `updates` along `axis` into zeros of run-time shape `target`, at the
 * positions a 1-D index tensor names (repeated positions accumulate). This is
 * the adjoint of gathering those positions.
 */
export function scatterAlong(
  ctx: GradContext,
  updates: string,
  indices: string,
  axis: number,
  rank: number,
  target: string,
): string {
  const e = ctx.emit;
  const view = Array.from({ length: rank }, (_, i) => (i === axis ? -1 : 1));
  const spread = e.op('Expand', [e.reshape(indices, e.ints(view)), e.shape(updates)]);
  const zeros = e.op('ConstantOfShape', [target], {
    value: toTensorProto('', { dtype: 'float32', dims: [1], data: Float32Array.of(0) }),
  });
  return e.op('ScatterElements', [zeros, spread, updates], { axis, reduction: 'add' });
}

/** Shape of `x` with axis `axis` replaced by an int64 [1] size tensor. */
export function replaceDim(ctx: GradContext, x: string, axis: number, rank: number, size: string): string {
  const e = ctx.emit;
  const s = e.shape(x);
  const parts: string[] = [];
  if (axis > 0) parts.push(e.op('Slice', [s, e.ints([0]), e.ints([axis])]));
  parts.push(size);
  if (axis < rank - 1) parts.push(e.op('Slice', [s, e.ints([axis + 1]), e.ints([rank])]));
  return parts.length === 1 ? parts[0] : e.op('Concat', parts, { axis: 0 });
}
