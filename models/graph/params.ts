// Parameter counting as the manifest defines it: elements of the initializers
// a graph computes with. A quantized weight counts once, as its codes; its
// DequantizeLinear scales are not parameters.
import type { GraphProto } from '../onnx/proto.js';
import { DataType } from '../onnx/proto.js';
import { ONNX_INT4, toNumber } from '../onnx/tensor.js';

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);
const CODE_TYPES = new Set<number>([DataType.INT8, DataType.UINT8, ONNX_INT4]);

export function parameterCount(graph: GraphProto): number {
  const scales = new Set(
    (graph.node ?? [])
      .filter((n) => n.opType === 'DequantizeLinear')
      .flatMap((n) => (n.input ?? []).slice(1)),
  );
  let total = 0;
  for (const t of graph.initializer ?? []) {
    const type = t.dataType ?? 0;
    if (scales.has(t.name ?? '') || !(FLOAT_TYPES.has(type) || CODE_TYPES.has(type))) continue;
    total += (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
  }
  return total;
}
