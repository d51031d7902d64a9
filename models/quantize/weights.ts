// Which initializers are frozen weights worth quantizing, and in which layout.
//
// A weight is a float32 initializer read as MatMul's B (2-D), as Gemm's B, or
// as Conv's weight. onnxruntime fuses DequantizeLinear into MatMul only when
// the codes are laid out [K, N] for that MatMul, so every 2-D weight gets the
// orientation most of its products want: W itself for MatMul(x, W) and
// Gemm(x, W), W^T for MatMul(x, Transpose(W)) and Gemm(x, W, transB=1), the
// form of torch.nn.Linear weights ([out, in]) in torch.onnx exports.
import {
  attrInt,
  attrInts,
  DataType,
  type GraphProto,
  hasAttr,
  type NodeProto,
  toNumber,
} from '../onnx/index.js';
import type { GraphEditor } from './graph-edit.js';

export interface WeightPlan {
  name: string;
  dims: number[];
  kind: 'matmul' | 'conv';
  /** MatMul/Gemm weights: the codes hold W^T, so K is W's second axis. */
  transposed: boolean;
}

export interface SkippedWeight {
  name: string;
  dims: number[];
  reason: string;
}

export interface SelectOptions {
  blockSize: number;
  keep: readonly RegExp[];
  minElements: number;
}

export function isDefaultDomain(node: NodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

/** MatMul reading `name` as its B operand: the product onnxruntime can fuse with a dequantization. */
export function isMatMulWeight(node: NodeProto, name: string): boolean {
  return (
    node.opType === 'MatMul' && isDefaultDomain(node) && node.input?.[1] === name && node.input?.[0] !== name
  );
}

/** Transpose that swaps the two axes of a 2-D tensor. */
export function isSwap(node: NodeProto): boolean {
  if (node.opType !== 'Transpose' || !isDefaultDomain(node)) return false;
  const perm = hasAttr(node, 'perm') ? attrInts(node, 'perm') : [1, 0];
  return perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

export function isGemmWeight(node: NodeProto, name: string): boolean {
  return (
    node.opType === 'Gemm' && isDefaultDomain(node) && node.input?.[1] === name && node.input?.[0] !== name
  );
}

/** Fusable products that want [K, N] = W (index 0) and [K, N] = W^T (index 1). */
function orientationVotes(edit: GraphEditor, name: string): [number, number] {
  const votes: [number, number] = [0, 0];
  for (const n of edit.readers(name)) {
    if (isMatMulWeight(n, name)) votes[0]++;
    else if (isSwap(n) && n.input?.[0] === name) {
      for (const m of edit.readers(n.output?.[0] ?? '')) if (isMatMulWeight(m, n.output![0])) votes[1]++;
    } else if (isGemmWeight(n, name) && attrInt(n, 'transA', 0) === 0) {
      votes[attrInt(n, 'transB', 0) === 1 ? 1 : 0]++;
    }
  }
  return votes;
}

export function selectWeights(
  graph: GraphProto,
  edit: GraphEditor,
  options: SelectOptions,
): { plans: WeightPlan[]; skipped: SkippedWeight[] } {
  const plans: WeightPlan[] = [];
  const skipped: SkippedWeight[] = [];
  const inputs = new Set((graph.input ?? []).map((i) => i.name));
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const dims = (t.dims ?? []).map(toNumber);
    // Non-float initializers are never weights; float64/16 ones are left alone too.
    if (t.dataType !== DataType.FLOAT) continue;
    const conv =
      dims.length >= 3 &&
      edit.readers(name).some((n) => n.opType === 'Conv' && isDefaultDomain(n) && n.input?.[1] === name);
    const votes = dims.length === 2 ? orientationVotes(edit, name) : [0, 0];
    if (!conv && votes[0] + votes[1] === 0) continue;
    const plan: WeightPlan = { name, dims, kind: conv ? 'conv' : 'matmul', transposed: votes[1] > votes[0] };
    const reason = skipReason(plan, inputs.has(name), options);
    if (reason) skipped.push({ name, dims, reason });
    else plans.push(plan);
  }
  return { plans, skipped };
}

function skipReason(plan: WeightPlan, isInput: boolean, o: SelectOptions): string | undefined {
  const kept = o.keep.find((re) => re.test(plan.name));
  if (kept) return `kept in fp32 by ${kept}`;
  if (isInput) return 'it is also a graph input (a caller may override it)';
  const count = plan.dims.reduce((a, b) => a * b, 1);
  if (count < o.minElements) return `${count} elements, fewer than minElements ${o.minElements}`;
  if (plan.kind === 'matmul') {
    const k = plan.dims[plan.transposed ? 1 : 0];
    if (k < o.blockSize) return `K = ${k} is smaller than one block (${o.blockSize})`;
  }
  return undefined;
}
