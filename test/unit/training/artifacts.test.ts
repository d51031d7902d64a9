// The four training graphs of a cut, chained as split training chains them,
// give the same loss, logits and gradients as differentiating the whole
// adapted model at once.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { differentiate } from '../../../models/autodiff/index.js';
import { parseSafetensors } from '../../../models/io/safetensors.js';
import { injectLora } from '../../../models/lora/index.js';
import { encodeModel } from '../../../models/onnx/index.js';
import type { Cut } from '../../../models/split/index.js';
import { REFERENCE_RECIPE, TRAINING_FILES, writeTrainingArtifacts } from '../../../models/training/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { Manifest } from '../../../protocol/manifest.js';

type Feeds = Record<string, ort.Tensor>;
const f32 = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

async function run(path: string | Uint8Array, feeds: Feeds) {
  const session = await ort.InferenceSession.create(path as string);
  const out = await session.run(feeds);
  await session.release();
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

describe.each<[string, Cut]>([
  ['embed', { kind: 'embed' }],
  ['block1', { kind: 'block', index: 1 }],
])('training artifacts at cut %s', (_, cut) => {
  it('chain head_forward → tail_train → head_backward equals whole-model differentiation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sf-train-'));
    const model = buildVit(REFERENCE_VIT);
    const manifest = Manifest.parse(
      await writeTrainingArtifacts({
        model,
        cut,
        outDir: dir,
        modelId: 'test',
        source: 'test',
        recipe: REFERENCE_RECIPE,
      }),
    );
    const training = manifest.training!;
    const initial = parseSafetensors(await readFile(join(dir, TRAINING_FILES.trainables)));
    expect([...initial.keys()].sort()).toEqual(training.trainables.map((t) => t.name).sort());

    // Non-zero B so every adapter gradient is non-trivial.
    const random = mulberry32(5);
    const values: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const t of training.trainables) {
      const data = (initial.get(t.name)!.data as Float32Array).slice();
      if (t.role === 'lora_B') for (let i = 0; i < data.length; i++) data[i] = (random() - 0.5) * 0.1;
      values[t.name] = { data, dims: t.shape };
    }
    const feedsOf = (owner: 'head' | 'tail') =>
      Object.fromEntries(
        training.trainables
          .filter((t) => t.owner === owner)
          .map((t) => [t.name, f32(values[t.name].data, t.shape)]),
      );

    const batch = 3;
    const pixels = Float32Array.from({ length: batch * 28 * 28 }, () => random() * 2 - 0.5);
    const labels = new ort.Tensor('int64', BigInt64Array.from([3n, 7n, 1n]), [batch]);
    const pixelFeeds = { pixels: f32(pixels, [batch, 1, 28, 28]) };
    const cutName = manifest.cut.tensor.name;

    const act = (await run(join(dir, TRAINING_FILES.headForward), { ...pixelFeeds, ...feedsOf('head') }))[
      cutName
    ];
    const tail = await run(join(dir, TRAINING_FILES.tailTrain), {
      [cutName]: act,
      labels,
      ...feedsOf('tail'),
    });
    const headGrads = training.artifacts.headBackward
      ? await run(join(dir, TRAINING_FILES.headBackward), {
          ...pixelFeeds,
          ...feedsOf('head'),
          [training.cutGradInput]: tail[`grad.${cutName}`],
        })
      : {};

    // The same adapters on the unsplit model, differentiated in one piece.
    const whole = injectLora(model, {
      targets: REFERENCE_RECIPE.targets,
      full: REFERENCE_RECIPE.full,
      rank: REFERENCE_RECIPE.rank,
      alpha: REFERENCE_RECIPE.alpha,
      seed: REFERENCE_RECIPE.seed,
    });
    for (const [name, t] of Object.entries(whole.initial)) {
      expect(Array.from(t.data.slice(0, 8))).toEqual(
        Array.from((initial.get(name)!.data as Float32Array).slice(0, 8)),
      );
    }
    const names = training.trainables.map((t) => t.name);
    const grad = differentiate(whole.model, { wrt: names, loss: 'cross-entropy' });
    const ref = await run(encodeModel(grad), {
      ...pixelFeeds,
      labels,
      ...Object.fromEntries(names.map((n) => [n, f32(values[n].data, values[n].dims)])),
    });

    expect(Math.abs((tail.loss.data as Float32Array)[0] - (ref.loss.data as Float32Array)[0])).toBeLessThan(
      1e-5,
    );
    expect(relErr(tail.logits.data as Float32Array, ref.logits.data as Float32Array)).toBeLessThan(1e-5);
    for (const t of training.trainables) {
      const got = (t.owner === 'tail' ? tail : headGrads)[`grad.${t.name}`].data as Float32Array;
      expect(relErr(got, ref[`grad.${t.name}`].data as Float32Array), t.name).toBeLessThan(1e-4);
    }
  });
});
