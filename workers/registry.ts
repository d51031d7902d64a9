// The models this Worker serves. Their artifacts are bundled with the Worker
// (wrangler rule: `.onnx` as Data) through a module that `npm run build:models`
// generates from the artifacts directory.
import { Manifest } from '../protocol/manifest.js';
import type { BundledTrainingArtifacts } from './bundled.js';
import { BUNDLED_MODELS } from './generated/models.js';

export interface DeployedModel {
  manifest: Manifest;
  head: ArrayBuffer;
  tail: ArrayBuffer;
  /** Present for models built for split fine-tuning (manifest.training). */
  training?: BundledTrainingArtifacts;
}

const models = new Map<string, DeployedModel>();
for (const m of BUNDLED_MODELS) {
  const manifest = Manifest.parse(m.manifest);
  models.set(manifest.modelId, { manifest, head: m.head, tail: m.tail, training: m.training });
}

export function findModel(id: string): DeployedModel | undefined {
  return models.get(id);
}

export function listModels(): DeployedModel[] {
  return [...models.values()];
}
