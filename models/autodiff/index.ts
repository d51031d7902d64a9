export {
  type DifferentiateOptions,
  differentiate,
  floatInputs,
  type LossKind,
  type LossOptions,
  type SeedOptions,
  type SeedSpec,
  trainableParameters,
} from './differentiate.js';
export { Emitter } from './emitter.js';
export { TARGET_OPSET } from './opset.js';
export { gradientRules, ruleFor, supportedOps } from './registry.js';
export type { GradContext, GradRule } from './rule.js';
