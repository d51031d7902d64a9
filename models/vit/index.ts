export {
  blockOut,
  buildVit,
  EMBED_OUT,
  VIT_INPUT,
  VIT_IR_VERSION,
  VIT_OPSET,
  VIT_OUTPUT,
} from './builder.js';
export {
  describeVit,
  REFERENCE_VIT,
  tokenCount,
  VIT_B16,
  type VitConfig,
  validateVitConfig,
} from './config.js';
