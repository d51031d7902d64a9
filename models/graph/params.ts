// Parameter counting as the manifest defines it: float elements of initializers.
import type { GraphProto } from '../onnx/proto.js';
import { DataType } from '../onnx/proto.js';
import { toNumber } from '../onnx/tensor.js';

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

export function parameterCount(graph: GraphProto): number {
  let total = 0;
  for (const t of graph.initializer ?? []) {
    if (!FLOAT_TYPES.has(t.dataType ?? 0)) continue;
    total += (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
  }
  return total;
}
