import { attrInt, attrInts, attrString, hasAttr } from '../../onnx/index.js';
import type { GradContext, GradRule } from '../rule.js';

/**
 * Y = conv(X, W) + B for group = 1, any spatial rank, strides, pads and
 * dilations.
 * - dX is the transposed convolution of g with W. When the input's spatial
 *   size is static, output_padding restores the rows the forward stride never
 *   reached; otherwise the full transposed result is cropped and padded to
 *   Shape(X) at run time.
 * - dW correlates X with g by swapping the roles of batch and channels:
 *   conv(X^T, g^T) with strides and dilations exchanged gives W's spatial
 *   extent (or more, cropped off) for every (in, out) channel pair.
 * - dB sums g over batch and space.
 */
export const conv: GradRule = {
  saves: { inputs: [0, 1] },
  differentiable: 'all',
  backward(ctx) {
    const e = ctx.emit;
    const node = ctx.node;
    if (attrInt(node, 'group', 1) !== 1) ctx.fail('grouped convolution (group > 1) is not supported');
    const g = ctx.grad(0)!;
    const x = ctx.input(0);
    const w = ctx.input(1);
    const kernel = hasAttr(node, 'kernel_shape')
      ? attrInts(node, 'kernel_shape')
      : (ctx.inInfo(1).dims?.slice(2) ?? []).map((d) => (typeof d === 'number' ? d : null));
    const n = hasAttr(node, 'kernel_shape') ? kernel.length : ctx.inRank(1) - 2;
    const strides = attrInts(node, 'strides', Array(n).fill(1));
    const dilations = attrInts(node, 'dilations', Array(n).fill(1));
    const spatial = Array.from({ length: n }, (_, i) => {
      const d = ctx.inInfo(0).dims?.[i + 2];
      return typeof d === 'number' ? d : null;
    });
    const pads = padsOf(ctx, n, spatial, kernel, strides, dilations);
    const axes = Array.from({ length: n }, (_, i) => i + 2);
    const swap = [1, 0, ...axes];
    const staticSizes = spatial.every((d) => d !== null) && kernel.every((k) => k !== null);
    const outSize = (i: number) =>
      Math.floor((spatial[i]! + pads[i] + pads[i + n] - dilations[i] * (kernel[i]! - 1) - 1) / strides[i]) +
      1;

    let dx: string | undefined;
    if (ctx.wants(0)) {
      if (staticSizes) {
        const extra = axes.map((_, i) => {
          const covered = (outSize(i) - 1) * strides[i] + dilations[i] * (kernel[i]! - 1) + 1;
          return spatial[i]! + pads[i] + pads[i + n] - covered;
        });
        const attrs: Record<string, number[]> = { strides, dilations, pads };
        if (extra.some((p) => p !== 0)) attrs.output_padding = extra;
        dx = e.op('ConvTranspose', [g, w], attrs);
      } else {
        const full = e.op('ConvTranspose', [g, w], { strides, dilations });
        const size = e.op('Slice', [e.shape(x), e.ints([2]), e.ints([n + 2])]);
        const begin = pads.slice(0, n);
        const cropped = e.op('Slice', [full, e.ints(begin), e.add(e.ints(begin), size), e.ints(axes)]);
        const croppedSize = e.op('Slice', [e.shape(cropped), e.ints([2]), e.ints([n + 2])]);
        const padEnd = e.op('Concat', [e.ints(Array(n + 4).fill(0)), e.sub(size, croppedSize)], { axis: 0 });
        dx = e.op('Pad', [cropped, padEnd]);
      }
    }

    let dw: string | undefined;
    if (ctx.wants(1)) {
      const corr = e.op('Conv', [e.transpose(x, swap), e.transpose(g, swap)], {
        strides: dilations,
        dilations: strides,
        pads,
      });
      const exact =
        staticSizes &&
        axes.every((_, i) => {
          const reach =
            Math.floor(
              (spatial[i]! + pads[i] + pads[i + n] - (outSize(i) - 1) * strides[i] - 1) / dilations[i],
            ) + 1;
          return reach === kernel[i];
        });
      let cropped = corr;
      if (!exact) {
        const ends = kernel.every((k) => k !== null)
          ? e.ints(kernel as number[])
          : e.op('Slice', [e.shape(w), e.ints([2]), e.ints([n + 2])]);
        cropped = e.op('Slice', [corr, e.ints(Array(n).fill(0)), ends, e.ints(axes)]);
      }
      dw = e.transpose(cropped, swap);
    }

    const db = ctx.wants(2) && ctx.hasInput(2) ? e.reduceSum(g, [0, ...axes], false) : undefined;
    return [dx, dw, db];
  },
};

/** Explicit begin/end pads, resolving auto_pad (SAME_* needs static spatial sizes). */
function padsOf(
  ctx: GradContext,
  n: number,
  spatial: Array<number | null>,
  kernel: Array<number | null>,
  strides: number[],
  dilations: number[],
): number[] {
  const autoPad = attrString(ctx.node, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') return attrInts(ctx.node, 'pads', Array(2 * n).fill(0));
  if (autoPad === 'VALID') return Array(2 * n).fill(0);
  if (spatial.some((d) => d === null) || kernel.some((k) => k === null)) {
    ctx.fail(`auto_pad ${autoPad} needs static spatial sizes to differentiate`);
  }
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = spatial[i]!;
    const out = Math.ceil(s / strides[i]);
    const total = Math.max((out - 1) * strides[i] + dilations[i] * (kernel[i]! - 1) + 1 - s, 0);
    const small = Math.floor(total / 2);
    begin.push(autoPad === 'SAME_LOWER' ? total - small : small);
    end.push(autoPad === 'SAME_LOWER' ? small : total - small);
  }
  return [...begin, ...end];
}
