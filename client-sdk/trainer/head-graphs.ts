// The device's two training graphs bound to the manifest's tensor names:
// forward (pixels + head trainables → cut activation) and backward (the same
// plus dL/d(cut) → grad.<trainable>), with their shapes checked on every run
// so a mismatched graph fails loudly instead of training on garbage.
import type { Manifest, TrainableSpec, TrainingSpec } from '../../protocol/manifest.js';
import { ManifestError, RuntimeError } from '../errors.js';
import type { FloatTensor, HeadSession } from '../runtime/types.js';
import { concreteShape, numel, sameShape } from '../shapes.js';

export type Params = Record<string, Float32Array>;

export interface HeadGraphs {
  /** The head trainables, in manifest order. */
  readonly trainables: readonly TrainableSpec[];
  forward(pixels: Float32Array, batch: number, params: Params): Promise<FloatTensor>;
  /** Gradients of the loss w.r.t. each head trainable, given dL/d(cut). */
  backward(pixels: Float32Array, batch: number, params: Params, cutGrad: FloatTensor): Promise<Params>;
  release(): Promise<void>;
}

export function bindHeadGraphs(
  manifest: Manifest & { training: TrainingSpec },
  forward: HeadSession,
  backward: HeadSession | undefined,
): HeadGraphs {
  const training = manifest.training;
  const trainables = training.trainables.filter((t) => t.owner === 'head');
  const inputName = manifest.input.name;
  const cutName = manifest.cut.tensor.name;
  requireNames('headForward', forward.inputNames, [inputName, ...trainables.map((t) => t.name)]);
  requireNames('headForward', forward.outputNames, [cutName]);
  if (trainables.length > 0) {
    if (!backward) throw new ManifestError('the head has trainables but the manifest names no headBackward');
    requireNames('headBackward', backward.inputNames, [
      inputName,
      training.cutGradInput,
      ...trainables.map((t) => t.name),
    ]);
    requireNames(
      'headBackward',
      backward.outputNames,
      trainables.map((t) => `grad.${t.name}`),
    );
  }

  const feeds = (pixels: Float32Array, batch: number, params: Params): Record<string, FloatTensor> => {
    const feed: Record<string, FloatTensor> = {
      [inputName]: { data: pixels, dims: concreteShape(manifest.input, batch) },
    };
    for (const t of trainables) feed[t.name] = { data: params[t.name], dims: t.shape };
    return feed;
  };

  return {
    trainables,
    async forward(pixels, batch, params) {
      const out = (await forward.run(feeds(pixels, batch, params)))[cutName];
      const want = concreteShape(manifest.cut.tensor, batch);
      if (!out || !sameShape(out.dims, want)) {
        throw new ManifestError(`headForward produced [${out?.dims ?? ''}], the manifest's cut is [${want}]`);
      }
      return out;
    },
    async backward(pixels, batch, params, cutGrad) {
      if (!backward || trainables.length === 0) return {};
      const outputs = await backward.run({
        ...feeds(pixels, batch, params),
        [training.cutGradInput]: cutGrad,
      });
      const grads: Params = {};
      for (const t of trainables) {
        const g = outputs[`grad.${t.name}`];
        if (!g || g.data.length !== numel(t.shape)) {
          throw new RuntimeError(
            `headBackward gave grad.${t.name} of [${g?.dims ?? ''}], expected [${t.shape}]`,
          );
        }
        grads[t.name] = g.data;
      }
      return grads;
    },
    async release() {
      await Promise.all([forward.release(), backward?.release()]);
    },
  };
}

function requireNames(graph: string, have: readonly string[], want: readonly string[]): void {
  const missing = want.filter((n) => !have.includes(n));
  if (missing.length > 0) {
    throw new ManifestError(`${graph} lacks ${missing.join(', ')} (it has ${have.join(', ')})`);
  }
}
