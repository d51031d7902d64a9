export { buildShard, type ShardGraphs, type TailTrainables } from './build.js';
export {
  type BlockCost,
  blockCosts,
  COST_MODEL,
  type PlanOptions,
  plannedMiB,
  planShards,
  type ShardPlan,
} from './plan.js';
export { type Segment, segmentTail, tailBlocks } from './segments.js';
export {
  DEFAULT_BUDGET_MIB,
  type PipelineOptions,
  SHARD_GRAD_INPUT,
  type WrittenPipeline,
  writePipeline,
} from './write.js';
