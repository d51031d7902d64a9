// The runtime-neutral surface of the SDK: no onnxruntime import, no Node APIs.
// node.ts and browser.ts add a default runtime on top.

export { argmaxRows, type Prediction, topKPredictions } from '../common/predictions.js';
export {
  createDynamicClient,
  DEVICE_PLACEMENT,
  type DynamicClient,
  type DynamicClientOptions,
  type DynamicInferResult,
} from './dynamic-client.js';
export * from './errors.js';
export { sha256Hex, verifyArtifact } from './integrity.js';
export { type Observation, type Placement, PlacementChooser } from './placement.js';
export { type OrtLike, type OrtSessionOptions, ortSessionFactory } from './runtime/ort.js';
export type { FloatTensor, HeadSession, SessionFactory } from './runtime/types.js';
export {
  type CoreSplitClientOptions,
  createSplitClient,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TOP_K,
  type InferInput,
  type InferOptions,
  type InferResult,
  type InferStats,
  type SplitClient,
  type SplitClientOptions,
} from './split-client.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './transport/backoff.js';
export type { FetchLike } from './transport/http.js';
export type { WireSettings } from './wire-settings.js';
