// Decides whether an initializer is the weight of a linear layer and, if so,
// in which layout it is stored. The layout fixes where `in` and `out` sit in
// W's dims, and so how the low-rank update B·A ([out, in]) is laid onto W.
import { attrInt, attrInts, hasAttr } from '../onnx/attributes.js';
import type { NodeProto, TensorProto } from '../onnx/proto.js';
import { DataType } from '../onnx/proto.js';
import { toNumber } from '../onnx/tensor.js';

/**
 * - `in_out`: W is [in, out] (`x @ W`, our builder; Gemm with transB = 0).
 * - `out_in`: W is [out, in] (torch Linear: Transpose(W) → MatMul; Gemm with transB = 1).
 */
export type WeightLayout = 'in_out' | 'out_in';

export type WeightUse =
  | { ok: true; layout: WeightLayout; inDim: number; outDim: number }
  | {
      ok: false;
      reason: string /** true if some consumer does use it as a MatMul/Gemm weight */;
      linear: boolean;
    };

const flip = (l: WeightLayout): WeightLayout => (l === 'in_out' ? 'out_in' : 'in_out');

/** The layout a direct consumer implies, or null if it does not read `name` as a weight. */
function directLayout(node: NodeProto, name: string): WeightLayout | null {
  const inputs = node.input ?? [];
  if (inputs[1] !== name || inputs[0] === name) return null;
  if (node.opType === 'MatMul') return 'in_out';
  if (node.opType === 'Gemm') return attrInt(node, 'transB', 0) ? 'out_in' : 'in_out';
  return null;
}

export function isMatrixTranspose(node: NodeProto): boolean {
  if (node.opType !== 'Transpose') return false;
  if (!hasAttr(node, 'perm')) return true; // default perm reverses the axes: a 2-D transpose
  const perm = attrInts(node, 'perm');
  return perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

/**
 * Classifies every use of initializer `t`. Eligible means: float32, 2-D, and
 * every consumer reads it as a MatMul/Gemm right-hand weight, directly or
 * through a 2-D Transpose, all agreeing on the layout. Anything else would make
 * "the adapted weight" ambiguous, so it is refused with a reason.
 */
export function weightUse(t: TensorProto, consumers: ReadonlyMap<string, NodeProto[]>): WeightUse {
  const name = t.name ?? '';
  const direct = consumers.get(name) ?? [];
  const layouts = new Set<WeightLayout>();
  const others: string[] = [];
  for (const node of direct) {
    const d = directLayout(node, name);
    if (d) {
      layouts.add(d);
      continue;
    }
    if (isMatrixTranspose(node)) {
      const out = node.output?.[0] ?? '';
      const next = consumers.get(out) ?? [];
      const viaT = next.map((n) => directLayout(n, out));
      if (next.length > 0 && viaT.every((l) => l !== null)) {
        for (const l of viaT) layouts.add(flip(l as WeightLayout));
        continue;
      }
    }
    others.push(`${node.opType} ${node.name ?? ''}`.trim());
  }
  const linear = layouts.size > 0;
  if (t.dataType !== DataType.FLOAT) {
    return { ok: false, linear, reason: `it is not float32 (ONNX data type ${t.dataType})` };
  }
  const dims = (t.dims ?? []).map(toNumber);
  if (dims.length !== 2) return { ok: false, linear, reason: `it is ${dims.length}-D, not a matrix` };
  if (!linear) return { ok: false, linear, reason: 'no MatMul or Gemm reads it as a weight' };
  if (others.length > 0) return { ok: false, linear, reason: `it is also read by ${others.join(', ')}` };
  if (layouts.size > 1) return { ok: false, linear, reason: 'its consumers disagree on its layout' };
  const [layout] = layouts;
  return layout === 'in_out'
    ? { ok: true, layout, inDim: dims[0], outDim: dims[1] }
    : { ok: true, layout, inDim: dims[1], outDim: dims[0] };
}
