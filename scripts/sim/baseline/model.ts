// The whole model a baseline device trains: the pretrained ViT with the fresh
// classifier and REFERENCE_RECIPE's adapters on every layer, built exactly as
// the centralized fine-tune builds it, so the three setups (centralized,
// split, no split) differ only in where the layers run and how they federate.
import { differentiate } from '../../../models/autodiff/index.js';
import { injectLora } from '../../../models/lora/index.js';
import type { ModelProto } from '../../../models/onnx/proto.js';
import type { Trainable } from '../../../models/train/grad-session.js';
import { REFERENCE_RECIPE } from '../../../models/training/recipe.js';
import { CLASSIFIER_SEED, loadPretrainedVit, resetClassifier } from '../../../models/weights/pretrained.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';

export type Params = Record<string, Trainable>;

export interface WholeModel {
  /** Logits from pixels and the trainables (graph inputs). */
  forward: ModelProto;
  /** The forward graph plus `labels` in, loss and grad.<trainable> out. */
  gradModel: ModelProto;
  /** Every trainable, owned by the device: without a split there is no tail. */
  specs: TrainableSpec[];
  initial: Params;
}

export async function buildWholeModel(): Promise<WholeModel> {
  const base = await loadPretrainedVit();
  resetClassifier(base, CLASSIFIER_SEED);
  const adapted = injectLora(base, REFERENCE_RECIPE);
  const gradModel = differentiate(adapted.model, {
    wrt: adapted.adapters.map((a) => a.name),
    loss: 'cross-entropy',
  });
  const specs = adapted.adapters.map((a) => ({ ...a, owner: 'head' as const }));
  const initial: Params = {};
  for (const [name, t] of Object.entries(adapted.initial)) initial[name] = { dims: t.dims, data: t.data };
  return { forward: adapted.model, gradModel, specs, initial };
}

/** Fresh copies, so local training never writes into the global version it started from. */
export function cloneParams(params: Params): Params {
  const out: Params = {};
  for (const [name, t] of Object.entries(params)) out[name] = { dims: t.dims, data: t.data.slice() };
  return out;
}
