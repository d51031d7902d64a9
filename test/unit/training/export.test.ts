// A version exported as one merged model computes what split inference with
// that version computes: the head's training forward graph with the version's
// head values, then the tail with its tail values.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { gaussian, mulberry32 } from '../../../common/random.js';
import { parseSafetensors } from '../../../common/safetensors.js';
import { encodeModel, loadModel } from '../../../models/onnx/index.js';
import { exportVersion } from '../../../models/training/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { Manifest } from '../../../protocol/manifest.js';
import { relativeL2 } from '../../support/numeric.js';

const DIR = join(import.meta.dirname, '../../../artifacts/vit-fashion');
const f32 = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

async function run(model: string | Uint8Array, feeds: Record<string, ort.Tensor>, output: string) {
  const session = await ort.InferenceSession.create(model as string);
  const out = (await session.run(feeds))[output].data as Float32Array;
  await session.release();
  return out;
}

describe('exportVersion', () => {
  it('folds a version into one model that matches split inference with that version', async () => {
    const manifest = Manifest.parse(JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')));
    const training = manifest.training!;
    // A "trained" version: the initial values moved by seeded noise, B included, so every adapter matters.
    const initial = parseSafetensors(await readFile(join(DIR, training.artifacts.trainables.file)));
    const noise = gaussian(mulberry32(5));
    const values = Object.fromEntries(
      training.trainables.map((t) => {
        const v = (initial.get(t.name)!.data as Float32Array).map((x) => x + 0.02 * noise());
        return [t.name, v];
      }),
    );
    const merged = exportVersion(await loadModel(join(DIR, 'full.onnx')), training, values);

    const pixels = Float32Array.from(samples.pixels);
    const batch = samples.inputShape;
    const feedsOf = (owner: 'head' | 'tail') =>
      Object.fromEntries(
        training.trainables
          .filter((t) => t.owner === owner)
          .map((t) => [t.name, f32(values[t.name], t.shape)]),
      );
    const activation = await run(
      join(DIR, training.artifacts.headForward.file),
      { [manifest.input.name]: f32(pixels, batch), ...feedsOf('head') },
      manifest.cut.tensor.name,
    );
    const split = await run(
      join(DIR, training.artifacts.tailInfer!.file),
      { [manifest.cut.tensor.name]: f32(activation, samples.activationShape), ...feedsOf('tail') },
      manifest.output.name,
    );
    const whole = await run(
      encodeModel(merged),
      { [manifest.input.name]: f32(pixels, batch) },
      manifest.output.name,
    );
    expect(relativeL2(whole, split)).toBeLessThan(1e-5);
    // And the version is not the base model.
    const base = await run(
      join(DIR, 'full.onnx'),
      { [manifest.input.name]: f32(pixels, batch) },
      manifest.output.name,
    );
    expect(base.some((x, i) => Math.abs(x - whole[i]) > 1e-3)).toBe(true);
  });

  it("refuses a model that does not take the manifest's trainables", async () => {
    const manifest = Manifest.parse(JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')));
    const other = buildVit({ ...REFERENCE_VIT, depth: 2 });
    expect(() => exportVersion(other, manifest.training!, {})).toThrow(/selects no weight|does not take/);
  });
});
