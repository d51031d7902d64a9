// Arranges DequantizeLinear nodes so onnxruntime fuses each one into the
// MatMul it feeds (com.microsoft.MatMulNBits at optimization level `all`).
//
// onnxruntime 1.30 fuses DequantizeLinear(codes, scales; axis 0, block_size)
// -> MatMul(x, .) only when the dequantized tensor has that one reader and the
// codes and scales initializers are read by that one DequantizeLinear: it
// repacks them into the fused kernel's own initializers. Measured: two
// DequantizeLinear nodes sharing codes (or only scales) fuse neither. So a
// MatMul whose weight is also read elsewhere (a second product, or the
// backward graph's Transpose of it) gets a private DequantizeLinear over its
// own copy of the codes and scales. The copy costs file size, not run time:
// the fused product keeps its weight packed, where sharing would expand a
// temporary fp32 weight on every run.
//
// Useful on its own after `differentiate()` of a quantized model, whose
// backward products read the forward weights too.
import { attrInt, graphOf, type ModelProto, type NodeProto, onnx } from '../onnx/index.js';
import { GraphEditor } from './graph-edit.js';
import { isDefaultDomain, isMatMulWeight } from './weights.js';

export interface Arrangement {
  /** New initializers, each mapped to the initializer it copies. */
  copies: Map<string, string>;
  /** MatMul nodes that now read a private DequantizeLinear (fusable), including ones that already did. */
  fusable: number;
}

/** Blocked DequantizeLinear of a 2-D initializer along axis 0: the form MatMulNBits takes. */
function isBlockedWeight(edit: GraphEditor, dq: NodeProto): boolean {
  if (dq.opType !== 'DequantizeLinear' || !isDefaultDomain(dq)) return false;
  const inputs = (dq.input ?? []).filter((i) => i);
  if (!inputs.every((i) => edit.initializer(i))) return false;
  const codes = edit.initializer(inputs[0]);
  if ((codes?.dims ?? []).length !== 2) return false;
  const axis = attrInt(dq, 'axis', 1);
  return (axis === 0 || axis === -2) && attrInt(dq, 'block_size', 0) > 0;
}

export function arrangeForFusion(model: ModelProto): Arrangement {
  const edit = new GraphEditor(graphOf(model));
  const copies = new Map<string, string>();
  let fusable = 0;
  const exclusive = (dq: NodeProto) =>
    (dq.input ?? []).every((i) => !i || (edit.readers(i).length === 1 && !edit.readElsewhere(i)));

  for (const dq of [...edit.nodes]) {
    if (!isBlockedWeight(edit, dq)) continue;
    const out = dq.output?.[0] ?? '';
    const readers = edit.readers(out);
    const products = readers.filter((n) => isMatMulWeight(n, out));
    if (products.length === 0) continue;
    const onlyProducts = readers.length === products.length && !edit.readElsewhere(out);
    // The first product may keep this node when nothing else reads it or its initializers.
    const keeper = onlyProducts && exclusive(dq) ? products[0] : undefined;
    for (const mm of products) {
      fusable++;
      if (mm === keeper) continue;
      const inputs = (dq.input ?? []).map((name) => {
        if (!name) return name;
        const copy = edit.unique(`${name}_copy`);
        edit.addInitializer(onnx.TensorProto.create({ ...edit.initializer(name), name: copy }));
        copies.set(copy, copies.get(name) ?? name);
        return copy;
      });
      const own = onnx.NodeProto.create({
        name: edit.unique(`${dq.name || out}_copy`),
        opType: dq.opType,
        domain: dq.domain,
        input: inputs,
        output: [edit.unique(`${out}_copy`)],
        attribute: dq.attribute,
      });
      mm.input![1] = own.output![0];
      edit.insertBefore(mm, [own]);
    }
    if (!edit.isRead(out)) {
      edit.remove(dq);
      for (const name of dq.input ?? []) if (name && !edit.isRead(name)) edit.removeInitializer(name);
    }
  }
  return { copies, fusable };
}
