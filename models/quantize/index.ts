// Quantized frozen weights: quantizeWeights() stores a model's frozen weights
// as block-wise int8 or int4 codes behind standard ONNX DequantizeLinear.
//
// Format: default-domain ONNX only, opset 21 (raised from 13-20 when needed,
// opset.ts), IR 10. MatMul and Gemm weights: codes laid out [K, N] for the
// product, symmetric (int8 -127..127, int4 -7..7, no zero point), one float32
// scale per block of `blockSize` rows of K per column (DequantizeLinear
// axis 0, block_size). Conv weights: one scale per output channel (axis 0).
//
// Run time on onnxruntime 1.30 (node and web/WASM), optimization level `all`:
// each DequantizeLinear -> MatMul pair becomes com.microsoft.MatMulNBits and
// the weight stays packed, provided the DequantizeLinear and its codes and
// scales feed that one MatMul (arrange.ts). Gemm is rewritten to MatMul for
// that reason. Conv weights are not fused: onnxruntime expands them to fp32
// on every run (in a ViT that is only the patch embedding).
//
// Training: differentiate() treats DequantizeLinear as a constant, so
// gradients of a quantized graph are exact gradients of the quantized
// forward. Run arrangeForFusion() on the backward graph afterwards, since its
// backward products read the forward weights too.
//
// agreement.ts (not re-exported here, it loads onnxruntime-web) measures how
// far quantized weights move a model's outputs.
export { type Arrangement, arrangeForFusion } from './arrange.js';
export { LEVELS, quantizeBlocked, quantizePerChannel, type WeightBits } from './blockwise.js';
export { frozenWeights } from './frozen.js';
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
