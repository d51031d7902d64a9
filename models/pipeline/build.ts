// Builds each shard's graphs from a tail segment: the forward graph (LoRA
// adapters and full-mode parameters as graph inputs, frozen weights in the
// format asked for) and, for training, the backward graph. Every shard but
// the last gets a seeded backward that recomputes its forward inside, so a
// shard keeps only its input between the two passes; the last shard's
// backward appends the loss.
import { differentiate } from '../autodiff/index.js';
import { type AdapterSpec, type FloatTensor, injectLora, type LoraFormulation } from '../lora/index.js';
import { graphOf } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { arrangeForFusion } from '../quantize/index.js';
import type { Segment } from './segments.js';

/** The trainables of the whole tail, by initializer name (as resolved from a recipe on the whole model). */
export interface TailTrainables {
  targets: readonly string[];
  full: readonly string[];
  rank: number;
  alpha: number;
  seed: number;
  /** How adapters join the graph (lora/inject.ts); default 'auto': a branch beside each product where possible. */
  formulation?: LoraFormulation;
}

export interface ShardGraphs {
  blocks: number[];
  input: string;
  output: string;
  forward: ModelProto;
  backward?: ModelProto;
  trainables: AdapterSpec[];
  initial: Record<string, FloatTensor>;
}

export interface ShardBuildOptions {
  /** Trainables to adapt; absent for an inference-only model. */
  trainables?: TailTrainables;
  /** Applied to the adapted forward graph before differentiation (e.g. weight quantization). */
  transform?: (forward: ModelProto) => ModelProto;
  /** Name of the dL/d(output) input of the seeded backward graphs. */
  gradInput: string;
}

const only = (names: readonly string[], present: Set<string>) => names.filter((n) => present.has(n));

export function buildShard(segment: Segment, last: boolean, o: ShardBuildOptions): ShardGraphs {
  const graph = graphOf(segment.model);
  const input = graph.input?.[0]?.name ?? '';
  const output = graph.output?.[0]?.name ?? '';
  const present = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  let forward = segment.model;
  let trainables: AdapterSpec[] = [];
  let initial: Record<string, FloatTensor> = {};
  const t = o.trainables;
  if (t) {
    const targets = only(t.targets, present);
    const full = only(t.full, present);
    if (targets.length > 0 || full.length > 0) {
      const injected = injectLora(forward, {
        targets,
        full,
        rank: t.rank,
        alpha: t.alpha,
        seed: t.seed,
        formulation: t.formulation,
      });
      forward = injected.model;
      trainables = injected.adapters;
      initial = injected.initial;
    }
  }
  if (o.transform) forward = o.transform(forward);
  let backward: ModelProto | undefined;
  if (t) {
    backward = differentiate(forward, {
      wrt: [...trainables.map((a) => a.name), input],
      ...(last ? { loss: 'cross-entropy' as const } : { seed: { output, gradInput: o.gradInput } }),
    });
    // The recomputed forward reads each quantized weight twice (product and
    // gradient); copies of its codes let onnxruntime fuse the product again.
    arrangeForFusion(backward);
  }
  return { blocks: segment.blocks, input, output, forward, backward, trainables, initial };
}
