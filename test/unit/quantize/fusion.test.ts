// onnxruntime-node at optimization level `all` must turn every forward
// product with a quantized weight into com.microsoft.MatMulNBits, the kernel
// that keeps the weight packed (onnxruntime-web runs the same optimizer).
import { describe, expect, it } from 'vitest';
import { differentiate } from '../../../models/autodiff/index.js';
import { graphOf, loadModel, type ModelProto, type onnx } from '../../../models/onnx/index.js';
import { arrangeForFusion, quantizeWeights } from '../../../models/quantize/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { optimizedOps, TORCHVISION } from './helpers.js';

const models: Array<[string, () => Promise<ModelProto>, number]> = [
  ['reference ViT', async () => buildVit(REFERENCE_VIT), 24],
  ['torchvision op17', () => loadModel(`${TORCHVISION}/tv_vit_tiny_op17.onnx`), 8],
  ['torchvision op14', () => loadModel(`${TORCHVISION}/tv_vit_tiny_op14.onnx`), 8],
];

const products = (m: ModelProto) => graphOf(m).node!.filter((n) => n.opType === 'MatMul').length;

describe.each(models)('%s', (_label, load, linears) => {
  it.each([8, 4] as const)(
    'int%i: every product with a quantized weight becomes MatMulNBits',
    async (bits) => {
      const fp32 = await load();
      const { model, report } = quantizeWeights(fp32, { bits });
      expect(report.quantized.reduce((a, w) => a + w.fused, 0)).toBe(linears);
      const ops = await optimizedOps(model);
      expect(ops.MatMulNBits).toBe(linears);
      // What stays is the patch embedding's Conv weight, dequantized per run.
      expect(ops.DequantizeLinear).toBe(1);
    },
  );
});

describe('backward graphs', () => {
  it('after differentiate(), arrangeForFusion gives the forward products their own dequantization again', async () => {
    const { model } = quantizeWeights(buildVit(REFERENCE_VIT), { bits: 4 });
    const backward = differentiate(model, { wrt: ['pixels'], loss: 'cross-entropy' });
    // The backward products read the forward weights too, which blocks fusion.
    expect((await optimizedOps(backward)).MatMulNBits ?? 0).toBe(0);
    const { fusable, copies } = arrangeForFusion(backward);
    expect(fusable).toBe(24);
    expect(copies.size).toBe(2 * 24);
    expect((await optimizedOps(backward)).MatMulNBits).toBe(24);
  });

  it('quantizing a generated backward graph fuses the forward products and shares codes with the rest', async () => {
    const fp32 = buildVit({ ...REFERENCE_VIT, depth: 1 });
    const backward = differentiate(fp32, { wrt: ['pixels'], loss: 'cross-entropy' });
    const before = products(backward);
    const { model, report } = quantizeWeights(backward, { bits: 8 });
    for (const w of report.quantized.filter((q) => q.kind === 'matmul')) {
      expect(w.fused, w.name).toBe(1);
      expect(w.unfused, w.name).toBeGreaterThanOrEqual(1);
      // A copy for the fused product and one shared by the backward readers.
      expect(w.bytesAfter).toBeGreaterThan(1.9 * (w.bytesBefore / 4));
    }
    expect(products(model)).toBe(before);
    expect((await optimizedOps(model)).MatMulNBits).toBe(6);
  });

  it('DequantizeLinear nodes that share codes are split so each product fuses', async () => {
    const { model } = quantizeWeights(buildVit({ ...REFERENCE_VIT, depth: 1 }), { bits: 4 });
    const g = graphOf(model);
    // Make blocks.0.attn.k read the q weight's dequantization: two products, one DequantizeLinear.
    const q = g.node!.find(
      (n) => n.opType === 'DequantizeLinear' && n.output![0] === 'blocks.0.attn.q.weight',
    )!;
    const k = g.node!.find((n) => n.opType === 'MatMul' && n.input![1] === 'blocks.0.attn.k.weight')!;
    k.input![1] = q.output![0];
    g.node = g.node!.filter((n: onnx.INodeProto) => n.output![0] !== 'blocks.0.attn.k.weight');
    expect((await optimizedOps(model)).MatMulNBits).toBe(4);
    arrangeForFusion(model);
    expect((await optimizedOps(model)).MatMulNBits).toBe(6);
  });
});
