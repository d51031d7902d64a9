export { type Arrangement, arrangeForFusion } from './arrange.js';
export { LEVELS, quantizeBlocked, quantizePerChannel, type WeightBits } from './blockwise.js';
export { type OpsetUpgrade, QUANTIZED_IR_VERSION, QUANTIZED_OPSET, raiseOpset } from './opset.js';
export {
  BLOCK_SIZES,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_MIN_ELEMENTS,
  type QuantizedWeight,
  type QuantizeOptions,
  type QuantizeReport,
  quantizeWeights,
  validateQuantizeOptions,
} from './quantize-weights.js';
export type { SkippedWeight } from './weights.js';
