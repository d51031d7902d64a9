// Turns a recipe into the concrete tensors it trains on one whole model,
// before the model is split: structure is only visible on the whole graph (the
// patch embedding is "before the first block"), and a recipe that trains
// nothing must fail here rather than write artifacts that train nothing.
import {
  type StructuralTrainables,
  selectFullParams,
  selectLinearTargets,
  structuralTrainables,
} from '../lora/index.js';
import { consumers, graphOf } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import type { AdapterRecipe, Selection } from './recipe.js';

export interface ResolvedRecipe {
  /** Weights that get a LoRA pair, in initializer order, named as their readers name them (lora/weight-tensors.ts). */
  targets: string[];
  /** Initializer names trained directly, in initializer order. */
  full: string[];
}

const isAuto = (s: Selection): s is 'auto' => s === 'auto';

/**
 * The tensors `recipe` selects in `model`. Every explicit pattern must select
 * something (select.ts says which and why not), `'auto'` targets must find
 * linear weights in the encoder blocks, and the recipe as a whole must select
 * at least one trainable.
 */
export function resolveRecipe(
  model: ModelProto,
  recipe: Pick<AdapterRecipe, 'targets' | 'full'>,
): ResolvedRecipe {
  const graph = graphOf(model);
  let found: StructuralTrainables | undefined;
  const structure = () => {
    found ??= structuralTrainables(graph);
    return found;
  };
  const targets = isAuto(recipe.targets)
    ? structure().targets
    : recipe.targets.length > 0
      ? selectLinearTargets(graph, recipe.targets, consumers(graph)).map((t) => t.tensor.name ?? '')
      : [];
  if (isAuto(recipe.targets) && targets.length === 0) {
    throw new Error('the encoder blocks contain no float MatMul/Gemm weight to put LoRA on');
  }
  const full = isAuto(recipe.full)
    ? structure().full
    : recipe.full.length > 0
      ? selectFullParams(graph, recipe.full).map((t) => t.name ?? '')
      : [];
  const both = targets.find((t) => full.includes(t));
  if (both) throw new Error(`${both} is selected both for LoRA and for full-mode training`);
  if (targets.length === 0 && full.length === 0) {
    throw new Error('the recipe selects nothing to train: give LoRA targets, full-mode parameters, or both');
  }
  return { targets, full };
}

/** Regexp sources that select exactly `names`, for a manifest to record what `'auto'` chose. */
export function exactSources(names: readonly string[]): string[] {
  return names.map((n) => `^${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}
