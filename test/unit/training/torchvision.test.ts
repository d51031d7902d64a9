// Training artifacts of a real torch.onnx.export with the structural recipe,
// checked against PyTorch autograd: with B = 0 the adapted model is the
// exported one, so the full-mode gradients must be PyTorch's, and each LoRA B
// gradient must be scale·G·Aᵀ with G PyTorch's gradient of the adapted weight.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../models/io/safetensors.js';
import type { HostTensor } from '../../../models/onnx/tensor.js';
import { STRUCTURAL_RECIPE, TRAINING_FILES, writeTrainingArtifacts } from '../../../models/training/index.js';
import { Manifest } from '../../../protocol/manifest.js';
import { loadTorchvision, TV_MODELS, toOrt, torchvisionReference } from '../models/helpers.js';

async function run(path: string, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(path);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function relErr(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

/** scale·G·Aᵀ for G [out, in] and A [rank, in]: dL/dB at B = 0 for a weight stored [out, in]. */
function loraBGrad(
  g: Float32Array,
  a: Float32Array,
  out: number,
  inDim: number,
  scale: number,
): Float32Array {
  const rank = a.length / inDim;
  const r = new Float32Array(out * rank);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < rank; k++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += g[o * inDim + i] * a[k * inDim + i];
      r[o * rank + k] = scale * s;
    }
  }
  return r;
}

describe.each(TV_MODELS)('structural training artifacts of %s at the embed cut', (file) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-tv-train-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reproduce PyTorch loss, logits and gradients', async () => {
    const manifest = Manifest.parse(
      await writeTrainingArtifacts({
        model: await loadTorchvision(file),
        cut: { kind: 'embed' },
        outDir: dir,
        modelId: 'tv-tiny',
        source: file,
        recipe: STRUCTURAL_RECIPE,
      }),
    );
    const training = manifest.training!;
    const owned = (owner: 'head' | 'tail') => training.trainables.filter((t) => t.owner === owner);
    expect(owned('head').map((t) => t.name)).toEqual(['conv_proj.weight', 'conv_proj.bias']);
    expect(owned('tail').filter((t) => t.role === 'lora_B')).toHaveLength(8);
    expect(
      owned('tail')
        .filter((t) => t.role === 'full')
        .map((t) => t.name),
    ).toEqual(['heads.head.weight', 'heads.head.bias']);

    const ref = await torchvisionReference();
    const initial = parseSafetensors(await readFile(join(dir, TRAINING_FILES.trainables)));
    const feedsOf = (owner: 'head' | 'tail') =>
      Object.fromEntries(owned(owner).map((t) => [t.name, toOrt(initial.get(t.name) as HostTensor)]));
    const pixels = { pixel_values: toOrt(ref.get('input.pixel_values')!) };
    const cut = manifest.cut.tensor.name;

    const act = (await run(join(dir, TRAINING_FILES.headForward), { ...pixels, ...feedsOf('head') }))[cut];
    const tail = await run(join(dir, TRAINING_FILES.tailTrain), {
      [cut]: act,
      labels: toOrt(ref.get('input.labels')!),
      ...feedsOf('tail'),
    });
    const head = await run(join(dir, TRAINING_FILES.headBackward), {
      ...pixels,
      ...feedsOf('head'),
      [training.cutGradInput]: tail[`grad.${cut}`],
    });

    const want = (key: string) => ref.get(key)!.data as Float32Array;
    const got = (side: Record<string, ort.Tensor>, name: string) => side[`grad.${name}`].data as Float32Array;
    expect(relErr(tail.logits.data as Float32Array, want('output.logits'))).toBeLessThan(1e-5);
    expect((tail.loss.data as Float32Array)[0]).toBeCloseTo(want('output.loss')[0], 5);
    for (const t of training.trainables) {
      const side = t.owner === 'head' ? head : tail;
      if (t.role === 'full') {
        expect(relErr(got(side, t.name), want(`grad.${t.name}`)), t.name).toBeLessThan(1e-4);
      } else if (t.role === 'lora_A') {
        expect(got(side, t.name).every((v) => v === 0)).toBe(true);
      } else {
        const [out, rank] = t.shape;
        const a = initial.get(`${t.base}.lora_A`)!.data as Float32Array;
        const scale = STRUCTURAL_RECIPE.alpha / STRUCTURAL_RECIPE.rank;
        const expected = loraBGrad(want(`grad.${t.base}`), a, out, a.length / rank, scale);
        expect(relErr(got(side, t.name), expected), t.name).toBeLessThan(1e-4);
      }
    }
  });
});
