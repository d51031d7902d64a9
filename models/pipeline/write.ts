// Plans, builds and writes a tail's pipeline: shard<i>_forward.onnx and, for
// training, shard<i>_backward.onnx, with the PipelineSpec that goes into the
// manifest.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineSpec, ShardSpec } from '../../protocol/manifest.js';
import type { AdapterSpec, FloatTensor } from '../lora/index.js';
import { encodeModel, graphOf } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { artifactOf, tensorSpec } from '../split/manifest.js';
import { buildShard, type TailTrainables } from './build.js';
import { blockCosts, type PlanOptions, planShards } from './plan.js';
import { segmentTail } from './segments.js';

export const SHARD_GRAD_INPUT = 'grad_in.output';
export const DEFAULT_BUDGET_MIB = 96;

export interface PipelineOptions extends Omit<PlanOptions, 'training'> {
  outDir: string;
  trainables?: TailTrainables;
  transform?: (forward: ModelProto) => ModelProto;
}

export interface WrittenPipeline {
  spec: PipelineSpec;
  /** Every tail trainable, shard by shard, and its initial value. */
  trainables: AdapterSpec[];
  initial: Record<string, FloatTensor>;
}

export async function writePipeline(tail: ModelProto, o: PipelineOptions): Promise<WrittenPipeline> {
  const training = o.trainables !== undefined;
  const plan = planShards(blockCosts(tail, o.bytesPerWeight), { ...o, training });
  const segments = await segmentTail(tail, plan.groups);
  const shards: ShardSpec[] = [];
  const trainables: AdapterSpec[] = [];
  const initial: Record<string, FloatTensor> = {};
  for (const [index, segment] of segments.entries()) {
    const built = buildShard(segment, index === segments.length - 1, {
      trainables: o.trainables,
      transform: o.transform,
      gradInput: SHARD_GRAD_INPUT,
    });
    const save = async (kind: 'forward' | 'backward', model: ModelProto) => {
      const file = `shard${index}_${kind}.onnx`;
      const bytes = encodeModel(model);
      await writeFile(join(o.outDir, file), bytes);
      return artifactOf(file, bytes, model);
    };
    const forward = await save('forward', built.forward);
    const backward = built.backward ? await save('backward', built.backward) : undefined;
    const io = graphOf(built.forward);
    shards.push({
      index,
      blocks: built.blocks,
      input: tensorSpec(io.input?.find((v) => v.name === built.input) ?? {}),
      output: tensorSpec(io.output?.[0] ?? {}),
      forward,
      ...(backward ? { backward } : {}),
      trainables: built.trainables.map((a) => a.name),
      plannedMiB: Math.round(plan.plannedMiB[index] * 10) / 10,
    });
    trainables.push(...built.trainables);
    Object.assign(initial, built.initial);
  }
  return {
    spec: { budgetMiB: o.budgetMiB, microBatch: o.microBatch, gradInput: SHARD_GRAD_INPUT, shards },
    trainables,
    initial,
  };
}
