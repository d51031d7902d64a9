// LoRA on whole models: our reference ViT (weights [in, out], MatMul) and the
// torchvision exports (Transpose → MatMul, a fused in_proj_weight, Gemm).
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AdapterSpec,
  type FloatTensor,
  injectLora,
  mergeAdapters,
  TRAINABLES_KEY,
  trainableInputs,
  trainableParameterCount,
} from '../../../models/lora/index.js';
import { encodeModel, type ModelProto } from '../../../models/onnx/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { loadTorchvision, maxAbsDiff, pixels, TV_MODELS } from '../models/helpers.js';

type Options = ort.InferenceSession.SessionOptions;

async function logits(model: ModelProto, feeds: Record<string, ort.Tensor>, options: Options = {}) {
  const session = await ort.InferenceSession.create(encodeModel(model), options);
  try {
    return (await session.run(feeds)).logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

const feedsOf = (values: Record<string, FloatTensor>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));

/** The same adapters with every B filled with a deterministic, clearly non-zero pattern. */
function withNonzeroB(initial: Record<string, FloatTensor>): Record<string, FloatTensor> {
  return Object.fromEntries(
    Object.entries(initial).map(([k, v]) => [
      k,
      k.endsWith('.lora_B')
        ? { ...v, data: Float32Array.from(v.data, (_, i) => 0.05 * Math.cos(i * 0.37 + k.length)) }
        : v,
    ]),
  );
}

const bases = (adapters: AdapterSpec[], role: AdapterSpec['role']) =>
  adapters.filter((a) => a.role === role).map((a) => a.base);

describe('LoRA on the reference ViT', () => {
  const vit = buildVit(REFERENCE_VIT);
  const x = pixels([3, 1, 28, 28]);
  const targets = [/attn\.(q|k|v|proj)\.weight$/, /mlp\.fc\d\.weight$/];
  let plain: Float32Array;
  beforeAll(async () => {
    plain = await logits(vit, { pixels: x });
  });

  it('selects exactly the attention and MLP weights of every block', () => {
    const { adapters } = injectLora(vit, { targets, rank: 4, alpha: 8, seed: 0 });
    const want = [0, 1, 2, 3].flatMap((i) =>
      ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map((p) => `blocks.${i}.${p}.weight`),
    );
    expect(bases(adapters, 'lora_A').sort()).toEqual([...want].sort());
    expect(bases(adapters, 'lora_B').sort()).toEqual([...want].sort());
    expect(adapters.every((a) => a.name === `${a.base}.${a.role}`)).toBe(true);
  });

  it('has the expected adapter parameter count', () => {
    const rank = 4;
    const { adapters } = injectLora(vit, { targets, rank, alpha: 8, seed: 0, full: /^head\./ });
    const d = REFERENCE_VIT.width;
    const hidden = d * REFERENCE_VIT.mlpRatio;
    // q, k, v, proj: A [r, d] + B [d, r]; fc1: A [r, d] + B [hidden, r]; fc2: A [r, hidden] + B [d, r].
    const perBlock = 4 * (rank * d + d * rank) + (rank * d + hidden * rank) + (rank * hidden + d * rank);
    expect(perBlock).toBe(896 * rank); // 512r (attention) + 192r (fc1) + 192r (fc2)
    const lora = trainableParameterCount(adapters.filter((a) => a.role !== 'full'));
    expect(lora).toBe(REFERENCE_VIT.depth * perBlock);
    expect(lora).toBe(14_336);
    const full = trainableParameterCount(adapters.filter((a) => a.role === 'full'));
    expect(full).toBe(d * REFERENCE_VIT.classes + REFERENCE_VIT.classes);
  });

  it('with B = 0 gives exactly the base logits', async () => {
    const { model, initial } = injectLora(vit, { targets, rank: 4, alpha: 8, seed: 0 });
    expect(await logits(model, { pixels: x, ...feedsOf(initial) })).toEqual(plain);
  });

  it('with nonzero B changes the logits, and merging the values reproduces them', async () => {
    const { model, initial } = injectLora(vit, { targets, rank: 4, alpha: 8, seed: 0 });
    const values = withNonzeroB(initial);
    const adapted = await logits(model, { pixels: x, ...feedsOf(values) });
    expect(maxAbsDiff(adapted, plain)).toBeGreaterThan(1e-3);
    const merged = mergeAdapters(model, values);
    expect(merged.graph?.input?.map((i) => i.name)).toEqual(['pixels']);
    expect(merged.metadataProps?.some((p) => p.key === TRAINABLES_KEY)).toBe(false);
    expect(maxAbsDiff(await logits(merged, { pixels: x }), adapted)).toBeLessThan(1e-5);
  });

  it('full mode turns the embedding and classifier into inputs holding their current values', async () => {
    const { model, initial, adapters } = injectLora(vit, {
      targets,
      rank: 2,
      alpha: 2,
      seed: 1,
      full: [/^embed\./, /^head\./],
    });
    expect(bases(adapters, 'full')).toEqual([
      'embed.patch.weight',
      'embed.patch.bias',
      'embed.cls_token',
      'embed.pos',
      'head.weight',
      'head.bias',
    ]);
    const inits = new Set(model.graph?.initializer?.map((t) => t.name));
    expect(bases(adapters, 'full').some((n) => inits.has(n))).toBe(false);
    const base = vit.graph?.initializer?.find((t) => t.name === 'head.weight');
    expect(initial['head.weight'].dims).toEqual(base?.dims);
    // Exact with graph optimisations off; with them on, a Conv whose weight is
    // an input cannot be pre-packed, so its summation order may differ (≤ 1 ulp-ish).
    const off: Options = { graphOptimizationLevel: 'disabled' };
    expect(await logits(model, { pixels: x, ...feedsOf(initial) }, off)).toEqual(
      await logits(vit, { pixels: x }, off),
    );
    expect(maxAbsDiff(await logits(model, { pixels: x, ...feedsOf(initial) }), plain)).toBeLessThan(1e-6);
  });

  it('trainableInputs reports the trainables from the metadata, and LoRA ones by name without it', () => {
    const { model, adapters } = injectLora(vit, { targets, rank: 2, alpha: 2, seed: 1, full: /^head\./ });
    expect(trainableInputs(model)).toEqual(adapters);
    expect(trainableInputs(vit)).toEqual([]);
    const stripped = { ...model, metadataProps: [] } as unknown as ModelProto;
    expect(trainableInputs(stripped)).toEqual(adapters.filter((a) => a.role !== 'full'));
  });

  it('regenerates the same A from the same seed, a different one from another seed', () => {
    const one = injectLora(vit, { targets, rank: 2, alpha: 2, seed: 1 }).initial;
    const again = injectLora(vit, { targets: [/attn\.q\.weight$/], rank: 2, alpha: 2, seed: 1 }).initial;
    const other = injectLora(vit, { targets, rank: 2, alpha: 2, seed: 2 }).initial;
    const name = 'blocks.2.attn.q.weight.lora_A';
    expect(again[name].data).toEqual(one[name].data);
    expect(other[name].data).not.toEqual(one[name].data);
    const bound = 1 / Math.sqrt(REFERENCE_VIT.width);
    const a = one[name].data as Float32Array;
    expect(a.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Set(a).size).toBe(a.length);
  });

  it('does not modify the model it is given', () => {
    const before = encodeModel(vit);
    injectLora(vit, { targets, rank: 2, alpha: 2, seed: 1, full: /^head\./ });
    expect(encodeModel(vit)).toEqual(before);
  });
});

describe.each(TV_MODELS)('LoRA on the torchvision export %s', (file) => {
  let model: ModelProto;
  let plain: Float32Array;
  const x = pixels([2, 3, 32, 32]);
  // in_proj_weight [96, 32] via Transpose → MatMul (fused q/k/v: one adapter),
  // out_proj.weight via Gemm transB=1, mlp.{0,3}.weight via Transpose → MatMul.
  const targets = /(in_proj_weight|out_proj\.weight|mlp\.\d\.weight)$/;
  beforeAll(async () => {
    model = await loadTorchvision(file);
    plain = await logits(model, { pixel_values: x });
  });

  it('selects the linear weights and sizes the adapters from each layout', () => {
    const { adapters } = injectLora(model, { targets, rank: 2, alpha: 4, seed: 0 });
    const layer0 = adapters.filter((a) => a.base.includes('encoder_layer_0'));
    expect(layer0.map((a) => [a.name.replace('encoder.layers.encoder_layer_0.', ''), a.shape])).toEqual([
      ['self_attention.in_proj_weight.lora_A', [2, 32]],
      ['self_attention.in_proj_weight.lora_B', [96, 2]],
      ['self_attention.out_proj.weight.lora_A', [2, 32]],
      ['self_attention.out_proj.weight.lora_B', [32, 2]],
      ['mlp.0.weight.lora_A', [2, 32]],
      ['mlp.0.weight.lora_B', [64, 2]],
      ['mlp.3.weight.lora_A', [2, 64]],
      ['mlp.3.weight.lora_B', [32, 2]],
    ]);
    expect(adapters).toHaveLength(16);
    // Per layer: 2·(32+96) + 2·(32+32) + 2·(32+64) + 2·(64+32) = 768 for rank 2.
    expect(trainableParameterCount(adapters)).toBe(2 * 768);
  });

  it('with B = 0 gives exactly the base logits (classifier Gemm adapted too)', async () => {
    const { model: adapted, initial } = injectLora(model, {
      targets: [targets, 'heads.head.weight'],
      rank: 2,
      alpha: 4,
      seed: 0,
      full: /^encoder\.ln\./,
    });
    expect(await logits(adapted, { pixel_values: x, ...feedsOf(initial) })).toEqual(plain);
  });

  it('with nonzero B changes the logits, and merging the values reproduces them', async () => {
    const { model: adapted, initial } = injectLora(model, { targets, rank: 2, alpha: 4, seed: 0 });
    const values = withNonzeroB(initial);
    const out = await logits(adapted, { pixel_values: x, ...feedsOf(values) });
    expect(maxAbsDiff(out, plain)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(await logits(mergeAdapters(adapted, values), { pixel_values: x }), out)).toBeLessThan(
      1e-5,
    );
  });
});
