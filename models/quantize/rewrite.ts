// Replaces one planned weight initializer by DequantizeLinear of its codes and
// rewires its readers so onnxruntime can fuse every product it can:
// - MatMul(x, W) (or MatMul(x, Transpose(W)) when the codes hold W^T) reads
//   the dequantized codes directly;
// - Gemm(A, W, C) whose op(W) matches the codes becomes MatMul + Add (+ Mul
//   for alpha/beta), since onnxruntime fuses DequantizeLinear into MatMul only;
// - Gemm whose op(W) is the other orientation reads the codes with transB
//   flipped, so no Transpose is materialized;
// - every other reader (Conv, a backward Transpose, Gemm with transA, ...)
//   keeps reading the tensor W, which is now the dequantized value (through a
//   Transpose when the codes hold W^T).
// All readers dequantize the same codes, so the quantized model is one
// function, and gradients through it are exact gradients of it.
import {
  attr,
  attrFloat,
  attrInt,
  float32,
  fromTensorProto,
  type IntTensor,
  type NodeProto,
  onnx,
  toIntTensorProto,
  toTensorProto,
} from '../onnx/index.js';
import { quantizeBlocked, quantizePerChannel, transpose2d, type WeightBits } from './blockwise.js';
import type { GraphEditor } from './graph-edit.js';
import { isGemmWeight, isMatMulWeight, isSwap, type WeightPlan } from './weights.js';

export interface Rewritten {
  codes: string;
  scale: string;
  /** The DequantizeLinear output. */
  dequantized: string;
}

export function rewriteWeight(
  edit: GraphEditor,
  plan: WeightPlan,
  bits: WeightBits,
  blockSize: number,
): Rewritten {
  const init = edit.initializer(plan.name);
  if (!init) throw new Error(`quantize: initializer ${plan.name} disappeared`);
  const w = fromTensorProto(init).data as Float32Array;
  const { name, dims } = plan;
  const dtype = bits === 4 ? 'int4' : 'int8';

  let codes: IntTensor;
  let scales: Float32Array;
  let scaleDims: number[];
  const attrs = [attr('axis', 0)];
  if (plan.kind === 'conv') {
    const q = quantizePerChannel(w, dims[0], bits);
    codes = { dtype, dims, data: q.codes };
    scales = q.scales;
    scaleDims = [dims[0]];
  } else {
    const [k, n] = plan.transposed ? [dims[1], dims[0]] : dims;
    const q = quantizeBlocked(plan.transposed ? transpose2d(w, dims[0], dims[1]) : w, k, n, bits, blockSize);
    codes = { dtype, dims: [k, n], data: q.codes };
    scales = q.scales;
    scaleDims = [Math.ceil(k / blockSize), n];
    attrs.push(attr('block_size', blockSize));
  }

  const codesName = edit.unique(`${name}_quantized`);
  const scaleName = edit.unique(`${name}_scale`);
  edit.removeInitializer(name);
  edit.addInitializer(toIntTensorProto(codesName, codes));
  edit.addInitializer(toTensorProto(scaleName, float32(scaleDims, scales)));
  // With W's own layout the dequantized tensor can take W's name, and nothing
  // that reads W needs rewiring.
  const dequantized = plan.transposed ? edit.unique(`${name}_dequantized_t`) : name;
  const dq = onnx.NodeProto.create({
    name: edit.unique(`/${name}/DequantizeLinear`),
    opType: 'DequantizeLinear',
    input: [codesName, scaleName],
    output: [dequantized],
    attribute: attrs,
  });
  const added: NodeProto[] = [dq];

  if (plan.kind === 'matmul') {
    const t = plan.transposed ? 1 : 0;
    for (const reader of edit.readers(name)) {
      if (plan.transposed && isSwap(reader) && reader.input?.[0] === name) {
        readThroughSwap(edit, reader, dequantized);
      } else if (isGemmWeight(reader, name)) {
        const transB = attrInt(reader, 'transB', 0);
        if (attrInt(reader, 'transA', 0) === 0 && transB === t) gemmToMatMul(edit, reader, dequantized);
        else if (plan.transposed) setTransB(reader, dequantized, 1 - transB);
      }
    }
  }
  if (plan.transposed && edit.isRead(name)) {
    added.push(
      onnx.NodeProto.create({
        name: edit.unique(`/${name}/Transpose`),
        opType: 'Transpose',
        input: [dequantized],
        output: [name],
        attribute: [attr('perm', [1, 0])],
      }),
    );
  }
  edit.insertBefore(undefined, added);
  return { codes: codesName, scale: scaleName, dequantized };
}

/** MatMul(x, Transpose(W)) reads the transposed codes' dequantization; the Transpose goes if unused. */
function readThroughSwap(edit: GraphEditor, swap: NodeProto, dequantized: string): void {
  const t = swap.output?.[0] ?? '';
  for (const m of edit.readers(t)) if (isMatMulWeight(m, t)) m.input![1] = dequantized;
  if (!edit.isRead(t)) edit.remove(swap);
}

function setTransB(gemm: NodeProto, b: string, transB: number): void {
  gemm.input![1] = b;
  gemm.attribute = [...(gemm.attribute ?? []).filter((a) => a.name !== 'transB'), attr('transB', transB)];
}

/** Y = alpha * A @ B + beta * C as MatMul, then Mul and Add where alpha, beta and C need them. */
function gemmToMatMul(edit: GraphEditor, gemm: NodeProto, b: string): void {
  const [a, , c] = gemm.input ?? [];
  const y = gemm.output?.[0] ?? '';
  const alpha = attrFloat(gemm, 'alpha', 1);
  const beta = attrFloat(gemm, 'beta', 1);
  const base = gemm.name || `/${y}`;
  const withC = !!c && beta !== 0;
  const nodes: NodeProto[] = [];
  const node = (op: string, inputs: string[], output?: string) => {
    const out = output ?? edit.unique(`${base}/${op}_output_0`);
    nodes.push(
      onnx.NodeProto.create({ name: edit.unique(`${base}/${op}`), opType: op, input: inputs, output: [out] }),
    );
    return out;
  };
  const scalar = (label: string, v: number) => {
    const name = edit.unique(`${base}/${label}`);
    edit.addInitializer(toTensorProto(name, { dtype: 'float32', dims: [], data: Float32Array.of(v) }));
    return name;
  };
  let product = node('MatMul', [a, b], alpha === 1 && !withC ? y : undefined);
  if (alpha !== 1) product = node('Mul', [product, scalar('alpha', alpha)], withC ? undefined : y);
  if (withC) node('Add', [product, beta === 1 ? c : node('Mul', [c, scalar('beta', beta)])], y);
  edit.replace(gemm, nodes);
}
