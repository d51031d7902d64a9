// The edge runtime: what the Worker's routes and the Durable Objects share to
// run model graphs at the edge. The registry on R2 (artifacts.ts), the
// onnxruntime loader for workerd (ort-wasm.ts), the per-isolate session cache
// (sessions.ts), the memory account (memory.ts), the shard runtime
// (shard-runtime.ts) and the pipeline of shard scripts (pipeline.ts).
export { ArtifactError, ArtifactStore, artifactKey, manifestKey } from './artifacts.js';
export { hold, type MemoryReport, memoryReport } from './memory.js';
export { loadOrt } from './ort-wasm.js';
export { inferThroughPipeline, shardService, shardSessionName, shardSlots, specsOf } from './pipeline.js';
export { residentSessions, withSession } from './sessions.js';
export {
  type Activation,
  type BackwardResult,
  type LossResult,
  runBackward,
  runForward,
  runLoss,
  type ShardContext,
  type TrainableValues,
} from './shard-runtime.js';
export { initialValues } from './trainables.js';
