// Training artifacts for one cut: the device's graphs (head forward and
// backward), the tail's pipeline shards with their forward and backward
// graphs (models/pipeline), the unsharded tail graphs for tools and tests
// (optional: a large tail is never differentiated in one piece), the
// trainables' initial values, and a manifest that lists them. Adapters are
// injected per segment after the split, so the splitter sees the unadapted
// graph.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact, Manifest, TrainableSpec, TrainingSpec } from '../../protocol/manifest.js';
import { differentiate } from '../autodiff/index.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { type AdapterSpec, injectLora, weightTensors } from '../lora/index.js';
import { consumers, encodeModel, graphOf } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../onnx/tensor.js';
import { arrangeForFusion } from '../quantize/index.js';
import type { Cut } from '../split/index.js';
import { type WriteSplitOptions, writeSplitDetailed } from '../split/index.js';
import type { AdapterRecipe, Selection } from './recipe.js';
import { exactSources, type ResolvedRecipe, resolveRecipe } from './resolve.js';

export const TRAINING_FILES = {
  headForward: 'head_forward.onnx',
  headBackward: 'head_backward.onnx',
  tailTrain: 'tail_train.onnx',
  tailInfer: 'tail_infer.onnx',
  trainables: 'trainables.safetensors',
} as const;

export interface TrainingArtifactsOptions extends Omit<WriteSplitOptions, 'cut'> {
  cut: Cut;
  recipe: AdapterRecipe;
  /** Also write tail_train.onnx and tail_infer.onnx for the whole tail (default true). */
  unshardedTail?: boolean;
}

interface Side {
  model: ModelProto;
  adapters: AdapterSpec[];
  initial: Record<string, HostTensor>;
}

/** What a recipe can choose on one side: its weights by the names their readers use (lora/weight-tensors.ts). */
function weightNames(model: ModelProto): Set<string> {
  const graph = graphOf(model);
  return new Set(weightTensors(graph, consumers(graph)).map((t) => t.name ?? ''));
}

/**
 * Adapters for the tensors of `chosen` that live on this side. A side with
 * none stays as it is: at a deep cut with every target in the tail, the head
 * legitimately trains nothing.
 */
function adaptSide(model: ModelProto, chosen: ResolvedRecipe, recipe: AdapterRecipe): Side {
  const here = weightNames(model);
  const targets = chosen.targets.filter((n) => here.has(n));
  const full = chosen.full.filter((n) => here.has(n));
  if (targets.length === 0 && full.length === 0) return { model, adapters: [], initial: {} };
  const injected = injectLora(model, {
    targets,
    full,
    rank: recipe.rank,
    alpha: recipe.alpha,
    seed: recipe.seed,
  });
  return { model: injected.model, adapters: injected.adapters, initial: injected.initial };
}

/** Each chosen tensor must be trained by exactly one side, or the two copies would drift apart. */
function assertOneOwner(chosen: ResolvedRecipe, head: ModelProto, tail: ModelProto): void {
  const inHead = weightNames(head);
  const inTail = weightNames(tail);
  for (const name of [...chosen.targets, ...chosen.full]) {
    if (inHead.has(name) && inTail.has(name)) {
      throw new Error(`${name} is needed on both sides of the cut, so neither side can train it`);
    }
    if (!inHead.has(name) && !inTail.has(name)) {
      throw new Error(`${name} is in neither side of the split: the model does not use it`);
    }
  }
}

function artifact(file: string, bytes: Uint8Array, parameters: number): Artifact {
  return {
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    parameters,
  };
}

/** What the manifest records: the caller's patterns, or for `'auto'` the names it found. */
const sources = (selection: Selection, chosen: string[]): string[] =>
  selection === 'auto' ? exactSources(chosen) : selection.map((r) => r.source);

const count = (adapters: AdapterSpec[]) =>
  adapters.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);

/** Writes the inference split plus the training artifacts, and returns the manifest with its `training` part. */
export async function writeTrainingArtifacts(o: TrainingArtifactsOptions): Promise<Manifest> {
  // Resolved on the whole model, before anything is written: a recipe that
  // trains nothing fails here instead of producing artifacts that train nothing.
  const chosen = resolveRecipe(o.model, o.recipe);
  const { rank, alpha, seed } = o.recipe;
  const { manifest, split, pipeline } = await writeSplitDetailed(o, { ...chosen, rank, alpha, seed });
  assertOneOwner(chosen, split.head, split.tail);
  const cut = manifest.cut.tensor.name;
  const head = adaptSide(split.head, chosen, o.recipe);
  const headNames = head.adapters.map((a) => a.name);
  const cutGradInput = `grad_in.${cut}`;

  const save = async (file: string, model: ModelProto, parameters: number) => {
    const bytes = encodeModel(model);
    await writeFile(join(o.outDir, file), bytes);
    return artifact(file, bytes, parameters);
  };
  const headForward = await save(TRAINING_FILES.headForward, head.model, count(head.adapters));
  const headBackward =
    headNames.length > 0
      ? await save(
          TRAINING_FILES.headBackward,
          differentiate(head.model, { wrt: headNames, seed: { output: cut, gradInput: cutGradInput } }),
          count(head.adapters),
        )
      : undefined;
  let unsharded: Pick<TrainingSpec['artifacts'], 'tailTrain' | 'tailInfer'> = {};
  if (o.unshardedTail !== false) {
    const tail = adaptSide(split.tail, chosen, o.recipe);
    const names = tail.adapters.map((a) => a.name);
    const sharded = pipeline.trainables.map((a) => a.name);
    if (names.join() !== sharded.join())
      throw new Error('internal: the shards train other tensors than the tail');
    // The same frozen-weight format as the shards, so tools evaluate what the edge runs.
    const transform = o.pipeline?.weights?.transform;
    const infer = transform ? transform(tail.model) : tail.model;
    const train = differentiate(infer, { wrt: [...names, cut], loss: 'cross-entropy' });
    arrangeForFusion(train);
    unsharded = {
      tailTrain: await save(TRAINING_FILES.tailTrain, train, count(tail.adapters)),
      tailInfer: await save(TRAINING_FILES.tailInfer, infer, count(tail.adapters)),
    };
  }
  const tailAdapters = pipeline.trainables;

  const initial = new Map<string, HostTensor>([
    ...Object.entries(head.initial),
    ...Object.entries(pipeline.initial),
  ]);
  const trainablesBytes = encodeSafetensors(initial);
  await writeFile(join(o.outDir, TRAINING_FILES.trainables), trainablesBytes);

  const spec =
    (owner: 'head' | 'tail') =>
    (a: AdapterSpec): TrainableSpec => ({
      name: a.name,
      shape: a.shape,
      owner,
      role: a.role,
      base: a.base,
    });
  const training: TrainingSpec = {
    loss: 'cross-entropy',
    labels: { name: 'labels', shape: ['batch'], dtype: 'int64' },
    artifacts: {
      headForward,
      ...(headBackward ? { headBackward } : {}),
      ...unsharded,
      trainables: artifact(
        TRAINING_FILES.trainables,
        trainablesBytes,
        count(head.adapters) + count(tailAdapters),
      ),
    },
    cutGradInput,
    trainables: [...head.adapters.map(spec('head')), ...tailAdapters.map(spec('tail'))],
    lora: {
      rank: o.recipe.rank,
      alpha: o.recipe.alpha,
      seed: o.recipe.seed,
      targets: sources(o.recipe.targets, chosen.targets),
      full: sources(o.recipe.full, chosen.full),
    },
  };
  const withTraining: Manifest = { ...manifest, training };
  await writeFile(join(o.outDir, 'manifest.json'), `${JSON.stringify(withTraining, null, 2)}\n`);
  return withTraining;
}
