export { type Block, locateBlocks } from './blocks.js';
export { type Cut, cutId, parseCut, resolveCut } from './cut.js';
export { artifactOf, buildManifest, DEFAULT_WIRE, type ManifestParts, tensorSpec } from './manifest.js';
export { BATCH_DIM, type ProbedTensor, probeOutputs } from './probe.js';
export { type Crossing, type SplitModels, splitModel } from './splitter.js';
export {
  MANIFEST_FILE,
  type PipelineChoice,
  type WriteSplitOptions,
  type WriteSplitResult,
  writeSplit,
  writeSplitDetailed,
} from './write.js';
