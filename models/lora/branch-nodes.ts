// The subgraph that adds one adapter beside its products: for each MatMul
// y = x·W (or x·Wᵀ) it computes y = x·W + (x·Aᵀ)·(scale·Bᵀ), the MatMul itself
// unchanged but for the name of its output. Equal to x·(W + scale·ΔW) in
// exact arithmetic, so the same A and B train the same update as a merge.
import { attr } from '../onnx/attributes.js';
import { type NodeProto, onnx } from '../onnx/proto.js';
import { float32, toTensorProto } from '../onnx/tensor.js';
import { loraAName, loraBName } from './adapter-nodes.js';
import type { BranchProduct, BranchRecord } from './metadata.js';
import type { LinearTarget } from './select.js';

export interface BranchNodes {
  /** Nodes that depend only on A and B, to place before the first product's update. */
  shared: onnx.NodeProto[];
  /** Per product, in the order given: what its MatMul now writes, and the nodes to place right after it. */
  updates: { frozen: string; nodes: onnx.NodeProto[] }[];
  record: BranchRecord;
}

export function branchNodes(
  target: LinearTarget,
  products: readonly NodeProto[],
  rank: number,
  alpha: number,
): BranchNodes {
  const base = target.tensor.name ?? '';
  const { layout, inDim, outDim } = target.use;
  const scale = alpha / rank;
  const a = loraAName(base);
  const b = loraBName(base);
  const t = (suffix: string) => `${base}.lora_${suffix}`;
  const scope = `/lora/${base}`;
  const node = (
    name: string,
    opType: string,
    input: string[],
    output: string,
    attribute = [] as onnx.AttributeProto[],
  ) => onnx.NodeProto.create({ name: `${scope}/${name}`, opType, input, output: [output], attribute });
  const swap = [attr('perm', [1, 0])];
  // Scaling Bᵀ ([rank, out]) rather than the update costs the same for any batch.
  const shared = [
    node('Transpose_A', 'Transpose', [a], t('A_T'), swap),
    node('Transpose_B', 'Transpose', [b], t('B_T'), swap),
    // A Constant node rather than an initializer: the scale is not a parameter.
    node('Constant', 'Constant', [], t('scale'), [attr('value', toTensorProto('', float32([], [scale])))]),
    node('Mul', 'Mul', [t('B_T'), t('scale')], t('B_T_scaled')),
  ];
  const updates = products.map((mm, i) => {
    // A weight read by several products gets one update per product.
    const k = i === 0 ? '' : `_${i}`;
    const output = mm.output?.[0] ?? '';
    const frozen = t(`frozen${k}`);
    const x = mm.input?.[0] ?? '';
    const nodes = [
      node(`MatMul_xA${k}`, 'MatMul', [x, t('A_T')], t(`xA${k}`)),
      node(`MatMul_update${k}`, 'MatMul', [t(`xA${k}`), t('B_T_scaled')], t(`update${k}`)),
      node(`Add${k}`, 'Add', [frozen, t(`update${k}`)], output),
    ];
    return { frozen, nodes, output };
  });
  const record: BranchRecord = {
    formulation: 'branch',
    base,
    a,
    b,
    rank,
    alpha,
    scale,
    layout,
    inDim,
    outDim,
    products: updates.map(({ output, frozen }): BranchProduct => ({ output, frozen })),
    nodes: [...shared, ...updates.flatMap((u) => u.nodes)].map((n) => n.name),
  };
  return { shared, updates: updates.map(({ frozen, nodes }) => ({ frozen, nodes })), record };
}
