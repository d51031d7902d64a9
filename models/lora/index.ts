export { adapterNodes, loraAName, loraBName } from './adapter-nodes.js';
export { type BranchNodes, branchNodes } from './branch-nodes.js';
export { mergedWeight } from './delta.js';
export { adapterSeed, initLoraA, initLoraB } from './init.js';
export {
  injectLora,
  type LoraInjection,
  type LoraOptions,
  trainableParameterCount,
} from './inject.js';
export { mergeAdapters, type TrainableValues } from './merge.js';
export {
  type BranchProduct,
  type BranchRecord,
  type LoraFormulation,
  type LoraRecord,
  type MergeRecord,
  readTrainables,
  TRAINABLES_KEY,
  type TrainablesRecord,
} from './metadata.js';
export type { NamePattern } from './patterns.js';
export { branchProducts } from './products.js';
export { type LinearTarget, selectFullParams, selectLinearTargets } from './select.js';
export { type StructuralTrainables, structuralTrainables } from './structure.js';
export { trainableInputs } from './trainables.js';
export type { AdapterSpec, FloatTensor, TrainableRole } from './types.js';
export { weightTensors } from './weight-tensors.js';
export { type WeightLayout, weightUse } from './weight-use.js';
