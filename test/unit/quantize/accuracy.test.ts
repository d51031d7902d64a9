// How much the quantized weights move the outputs (onnxruntime-web WASM).
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../models/onnx/index.js';
import { logitsCosine, pretrainedAgreement } from '../../../models/quantize/agreement.js';
import { quantizeWeights } from '../../../models/quantize/index.js';
import { loadPretrainedVit } from '../../../models/weights/pretrained.js';
import { TORCHVISION } from './helpers.js';

describe('logits cosine against fp32 (random inputs)', () => {
  it('reference ViT (pretrained): int8 >= 0.999, int4 >= 0.95', async () => {
    const fp32 = await loadPretrainedVit();
    const int8 = await logitsCosine(fp32, quantizeWeights(fp32, { bits: 8 }).model, { batch: 16 });
    const int4 = await logitsCosine(fp32, quantizeWeights(fp32, { bits: 4 }).model, { batch: 16 });
    expect(int8.samples).toBe(16);
    expect(int8.cosine_min).toBeGreaterThanOrEqual(0.999);
    expect(int4.cosine_min).toBeGreaterThanOrEqual(0.95);
    expect(int4.cosine_mean).toBeLessThan(int8.cosine_mean);
  });

  it('torchvision tiny export: int8 >= 0.999', async () => {
    const fp32 = await loadModel(`${TORCHVISION}/tv_vit_tiny_op17.onnx`);
    const int8 = await logitsCosine(fp32, quantizeWeights(fp32, { bits: 8 }).model, { batch: 16 });
    expect(int8.cosine_min).toBeGreaterThanOrEqual(0.999);
    // Its weights are noise-perturbed random ones (std 0.02) and K is one block: int4 is coarse here.
    const int4 = await logitsCosine(fp32, quantizeWeights(fp32, { bits: 4 }).model, { batch: 16 });
    expect(int4.cosine_mean).toBeGreaterThan(0.9);
  });

  it('a model against itself agrees exactly; given inputs are used as they are', async () => {
    const fp32 = await loadPretrainedVit();
    const pixels = {
      dtype: 'float32' as const,
      dims: [2, 1, 28, 28],
      data: new Float32Array(2 * 784).fill(0.5),
    };
    const same = await logitsCosine(fp32, fp32, { inputs: { pixels } });
    expect(same).toEqual({ samples: 2, top1_agreement: 1, cosine_min: 1, cosine_mean: 1 });
  });
});

describe('pretrained MNIST agreement on held-out digits', () => {
  it('int4 weights keep top-1 on at least 98% of 1,000 digits', async () => {
    const r = await pretrainedAgreement({ bits: 4 });
    expect(r.samples).toBe(1000);
    expect(r.top1_agreement).toBeGreaterThanOrEqual(0.98);
    expect(r.cosine_mean).toBeGreaterThan(0.99);
    expect(r.report.weightBytesAfter).toBeLessThan(r.report.weightBytesBefore / 5);
  });

  it('int8 weights agree on 200 digits', async () => {
    const r = await pretrainedAgreement({ bits: 8, samples: 200, batch: 50 });
    expect(r).toMatchObject({ samples: 200, top1_agreement: 1, bits: 8, blockSize: 32 });
    expect(r.cosine_min).toBeGreaterThan(0.9999);
  });
});
