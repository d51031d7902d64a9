// The options `split` and `train-artifacts` share for the edge's pipeline:
// how the tail's frozen weights are stored and how the tail is sharded.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_BUDGET_MIB } from '../pipeline/index.js';
import { frozenWeights } from '../quantize/index.js';
import type { PipelineChoice } from '../split/write.js';
import { positiveInt } from './options.js';

export interface PipelineOptions {
  weights?: '8' | '4';
  block: number;
  budgetMib: number;
  microBatch?: number;
  shards?: number;
  tailFile: boolean;
}

export function addPipelineOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--weights <bits>',
        "store the tail's frozen weights int8 or int4, block-wise (default fp32)",
      ).choices(['8', '4']),
    )
    .option('--block <n>', 'quantization block along the input dimension', positiveInt, 32)
    .option(
      '--budget-mib <n>',
      'per-isolate memory budget the shards are planned for',
      positiveInt,
      DEFAULT_BUDGET_MIB,
    )
    .option(
      '--micro-batch <n>',
      'samples per onnxruntime run inside a shard (default 32, or the max batch)',
      positiveInt,
    )
    .option('--shards <n>', 'this many shards instead of planning by the budget', positiveInt)
    .option('--no-tail-file', 'do not write the unsharded tail (tail.onnx): the edge runs the shards');
}

export function pipelineChoice(o: PipelineOptions): PipelineChoice {
  if (o.block & (o.block - 1)) throw new InvalidArgumentError('--block must be a power of two');
  return {
    budgetMiB: o.budgetMib,
    microBatch: o.microBatch,
    shards: o.shards,
    ...(o.weights ? { weights: frozenWeights(Number(o.weights) as 8 | 4, o.block) } : {}),
  };
}
