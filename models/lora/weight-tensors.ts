// The tensors LoRA can adapt, one per stored weight. A float initializer is
// its own weight. A quantized one (models/quantize stores a frozen W as
// integer codes read by one DequantizeLinear) stands for that node's float
// output, which is what the MatMul reads in W's place: adapting it trains the
// same low-rank update on top of the dequantized weight.
import { DataType, type GraphProto, type NodeProto, onnx, type TensorProto } from '../onnx/proto.js';

function dequantizedBy(t: TensorProto, consumers: ReadonlyMap<string, NodeProto[]>): NodeProto | undefined {
  const readers = consumers.get(t.name ?? '') ?? [];
  const [dq] = readers;
  const only =
    readers.length === 1 && dq.opType === 'DequantizeLinear' && (!dq.domain || dq.domain === 'ai.onnx');
  return only && dq.input?.[0] === t.name ? dq : undefined;
}

/**
 * Initializers in graph order, each quantized one replaced by a stand-in for
 * its DequantizeLinear output: a TensorProto with that output's name, the
 * codes' dims and the scale's element type, and no data.
 */
export function weightTensors(graph: GraphProto, consumers: ReadonlyMap<string, NodeProto[]>): TensorProto[] {
  const inits = graph.initializer ?? [];
  const byName = new Map(inits.map((t) => [t.name ?? '', t]));
  return inits.map((t) => {
    const dq = dequantizedBy(t, consumers);
    if (!dq) return t;
    const scale = byName.get(dq.input?.[1] ?? '');
    return onnx.TensorProto.create({
      name: dq.output?.[0] ?? '',
      dims: t.dims,
      dataType: scale?.dataType ?? DataType.FLOAT,
    });
  });
}
