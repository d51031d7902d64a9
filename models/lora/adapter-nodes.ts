// The merge formulation's subgraph: one adapted weight, W' = W + scale·ΔW,
// computed from the graph inputs A [rank, in] and B [out, rank] in W's own
// layout, for the weight's readers to read instead of W.
import { attr } from '../onnx/attributes.js';
import { onnx } from '../onnx/proto.js';
import { float32, toTensorProto } from '../onnx/tensor.js';
import type { MergeRecord } from './metadata.js';
import type { LinearTarget } from './select.js';

export const loraAName = (base: string): string => `${base}.lora_A`;
export const loraBName = (base: string): string => `${base}.lora_B`;

/** The nodes computing W' for one target, and its bookkeeping record. */
export function adapterNodes(
  target: LinearTarget,
  rank: number,
  alpha: number,
): { nodes: onnx.NodeProto[]; record: MergeRecord } {
  const base = target.tensor.name ?? '';
  const { layout, inDim, outDim } = target.use;
  const scale = alpha / rank;
  const a = loraAName(base);
  const b = loraBName(base);
  const t = (suffix: string) => `${base}.lora_${suffix}`;
  const scope = `/lora/${base}`;
  const node = (opType: string, input: string[], output: string, attribute: onnx.AttributeProto[] = []) =>
    onnx.NodeProto.create({ name: `${scope}/${opType}`, opType, input, output: [output], attribute });
  const nodes = [node('MatMul', [b, a], t('BA'))];
  // B·A is [out, in]; a weight stored [in, out] needs its transpose.
  let delta = t('BA');
  if (layout === 'in_out') {
    nodes.push(node('Transpose', [delta], t('BA_T'), [attr('perm', [1, 0])]));
    delta = t('BA_T');
  }
  // A Constant node rather than an initializer: the scale is not a parameter.
  nodes.push(node('Constant', [], t('scale'), [attr('value', toTensorProto('', float32([], [scale])))]));
  nodes.push(node('Mul', [delta, t('scale')], t('delta')));
  nodes.push(node('Add', [base, t('delta')], t('merged')));
  const record: MergeRecord = {
    formulation: 'merge',
    base,
    a,
    b,
    rank,
    alpha,
    scale,
    layout,
    inDim,
    outDim,
    merged: t('merged'),
    nodes: nodes.map((n) => n.name),
  };
  return { nodes, record };
}
