// The project's pretrained reference weights: models/weights/vit-mnist.safetensors,
// produced by `npm run models:pretrain` (seeded) and committed (about 560 kB).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gaussian, mulberry32 } from '../../common/random.js';
import { readSafetensors } from '../io/safetensors.js';
import { replaceInitializers } from '../onnx/initializers.js';
import type { ModelProto } from '../onnx/proto.js';
import { float32 } from '../onnx/tensor.js';
import { buildVit, REFERENCE_VIT } from '../vit/index.js';

export const PRETRAINED_WEIGHTS = fileURLToPath(new URL('./vit-mnist.safetensors', import.meta.url));

export function hasPretrainedWeights(): boolean {
  return existsSync(PRETRAINED_WEIGHTS);
}

/** The reference ViT with the pretrained MNIST weights. */
export async function loadPretrainedVit(): Promise<ModelProto> {
  if (!hasPretrainedWeights()) {
    throw new Error(`no pretrained weights at ${PRETRAINED_WEIGHTS}: run npm run models:pretrain`);
  }
  const model = buildVit(REFERENCE_VIT);
  replaceInitializers(model, await readSafetensors(PRETRAINED_WEIGHTS));
  return model;
}

/** The seed of the fresh classifier a new task starts from: the federated deployment and the central baseline share it. */
export const CLASSIFIER_SEED = 7;

/** A fresh, seeded classifier for a new task with the same number of classes. */
export function resetClassifier(model: ModelProto, seed: number): void {
  const normal = gaussian(mulberry32(seed));
  const { width, classes } = REFERENCE_VIT;
  replaceInitializers(
    model,
    new Map([
      [
        'head.weight',
        float32(
          [width, classes],
          Array.from({ length: width * classes }, () => 0.02 * normal()),
        ),
      ],
      ['head.bias', float32([classes])],
    ]),
  );
}
