// Stores a model's frozen weights as block-wise int8 or int4 codes behind
// standard ONNX DequantizeLinear (opset 21), arranged so onnxruntime fuses
// each dequantization into its MatMul (MatMulNBits) and keeps the weight
// packed. Graph inputs and outputs are unchanged. See weights.ts for what
// counts as a weight, rewrite.ts for the rewiring, arrange.ts for fusion.
import { decodeModel, encodeModel, graphOf, type ModelProto, type onnx } from '../onnx/index.js';
import { arrangeForFusion } from './arrange.js';
import type { WeightBits } from './blockwise.js';
import { GraphEditor } from './graph-edit.js';
import { type OpsetUpgrade, raiseOpset } from './opset.js';
import { rewriteWeight } from './rewrite.js';
import { isMatMulWeight, type SkippedWeight, selectWeights } from './weights.js';

export interface QuantizeOptions {
  bits: WeightBits;
  /** Rows of K per scale for MatMul/Gemm weights: a power of two from 16 to 256. Default 32. */
  blockSize?: number;
  /** Initializers whose names match any of these stay fp32. */
  keep?: readonly RegExp[];
  /** Smaller weights stay fp32: their scales and the extra node cost more than they save. Default 1024. */
  minElements?: number;
}

export interface QuantizedWeight {
  name: string;
  /** The original fp32 shape. */
  dims: number[];
  kind: 'matmul' | 'conv';
  /** MatMul/Gemm weights: the codes are W^T ([K, N] for a weight stored [N, K]). */
  transposed: boolean;
  /** Initializers of the codes and scales (first copy). */
  codes: string;
  scale: string;
  /** Block size along K; null for per-output-channel (Conv) scales. */
  blockSize: number | null;
  /** MatMul products that read their own DequantizeLinear: onnxruntime fuses these. */
  fused: number;
  /** Other readers of the weight: they dequantize to a temporary fp32 tensor on every run. */
  unfused: number;
  bytesBefore: number;
  /** Codes and scales, every copy included. */
  bytesAfter: number;
}

export interface QuantizeReport {
  bits: WeightBits;
  blockSize: number;
  opset: OpsetUpgrade;
  quantized: QuantizedWeight[];
  skipped: SkippedWeight[];
  weightBytesBefore: number;
  weightBytesAfter: number;
  modelBytesBefore: number;
  modelBytesAfter: number;
}

export const DEFAULT_BLOCK_SIZE = 32;
export const DEFAULT_MIN_ELEMENTS = 1024;
/** onnxruntime's MatMulNBits takes power-of-two blocks of at least 16. */
export const BLOCK_SIZES: readonly number[] = [16, 32, 64, 128, 256];

export function validateQuantizeOptions(o: QuantizeOptions): Required<QuantizeOptions> {
  if (o.bits !== 8 && o.bits !== 4) throw new Error(`bits must be 8 or 4, not ${String(o.bits)}`);
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!BLOCK_SIZES.includes(blockSize)) {
    throw new Error(`block size ${blockSize} is not supported: use one of ${BLOCK_SIZES.join(', ')}`);
  }
  const minElements = o.minElements ?? DEFAULT_MIN_ELEMENTS;
  if (!Number.isInteger(minElements) || minElements < 0)
    throw new Error(`minElements must be a non-negative integer, not ${minElements}`);
  return { bits: o.bits, blockSize, keep: o.keep ?? [], minElements };
}

export function quantizeWeights(
  source: onnx.IModelProto,
  options: QuantizeOptions,
): { model: ModelProto; report: QuantizeReport } {
  const o = validateQuantizeOptions(options);
  const before = encodeModel(source);
  const out = decodeModel(before);
  const opset = raiseOpset(out);
  const edit = new GraphEditor(graphOf(out));
  const { plans, skipped } = selectWeights(graphOf(out), edit, o);
  const rewritten = plans.map((plan) => ({ plan, ...rewriteWeight(edit, plan, o.bits, o.blockSize) }));
  const { copies } = arrangeForFusion(out);

  const sizes = new Map<string, number>();
  for (const t of graphOf(out).initializer ?? []) {
    const root = copies.get(t.name ?? '') ?? t.name ?? '';
    sizes.set(root, (sizes.get(root) ?? 0) + (t.rawData?.byteLength ?? 0));
  }
  const quantized: QuantizedWeight[] = rewritten.map(({ plan, codes, scale }) => {
    const { fused, unfused } = countReaders(edit, plan.name, codes, copies);
    return {
      name: plan.name,
      dims: plan.dims,
      kind: plan.kind,
      transposed: plan.transposed,
      codes,
      scale,
      blockSize: plan.kind === 'conv' ? null : o.blockSize,
      fused,
      unfused,
      bytesBefore: 4 * plan.dims.reduce((a, b) => a * b, 1),
      bytesAfter: (sizes.get(codes) ?? 0) + (sizes.get(scale) ?? 0),
    };
  });
  const report: QuantizeReport = {
    bits: o.bits,
    blockSize: o.blockSize,
    opset,
    quantized,
    skipped,
    weightBytesBefore: quantized.reduce((a, w) => a + w.bytesBefore, 0),
    weightBytesAfter: quantized.reduce((a, w) => a + w.bytesAfter, 0),
    modelBytesBefore: before.byteLength,
    modelBytesAfter: encodeModel(out).byteLength,
  };
  return { model: out, report };
}

/**
 * Readers of a weight's dequantizations after arrangement: a MatMul that is
 * the only reader of its DequantizeLinear is fused; anything else (including
 * readers of W through the Transpose of transposed codes) is not.
 */
function countReaders(
  edit: GraphEditor,
  weight: string,
  codes: string,
  copies: ReadonlyMap<string, string>,
): { fused: number; unfused: number } {
  let fused = 0;
  let unfused = 0;
  const uses = (name: string) => edit.readers(name).length + (edit.readElsewhere(name) ? 1 : 0);
  for (const dq of edit.nodes) {
    const input = dq.input?.[0] ?? '';
    if (dq.opType !== 'DequantizeLinear' || (copies.get(input) ?? input) !== codes) continue;
    const out = dq.output?.[0] ?? '';
    const readers = edit.readers(out);
    const alone = readers.length === 1 && !edit.readElsewhere(out);
    for (const r of readers) {
      if (alone && isMatMulWeight(r, out)) fused++;
      else if (r.opType === 'Transpose' && r.output?.[0] === weight) unfused += uses(weight);
      else unfused++;
    }
    if (edit.readElsewhere(out)) unfused++;
  }
  return { fused, unfused };
}
