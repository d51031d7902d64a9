// The tail's frozen weights in a quantized format, as a build option of the
// pipeline (models/split/write.ts PipelineChoice): the graph transform, its
// manifest record, and its size per weight for the shard planner.
import type { ModelProto } from '../onnx/proto.js';
import type { PipelineChoice } from '../split/write.js';
import type { WeightBits } from './blockwise.js';
import { quantizeWeights } from './quantize-weights.js';

export function frozenWeights(bits: WeightBits, blockSize = 32): NonNullable<PipelineChoice['weights']> {
  return {
    format: { bits, block: blockSize },
    transform: (m: ModelProto) => quantizeWeights(m, { bits, blockSize }).model,
    // Codes plus one float32 scale per block.
    bytesPerWeight: (elements: number) => elements * (bits / 8 + 4 / blockSize),
  };
}
