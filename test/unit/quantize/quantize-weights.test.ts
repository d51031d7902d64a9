// The quantized graph: default-domain ops only, the same inputs and outputs,
// opset 21, and outputs equal to the fp32 graph with the dequantized weights
// substituted, on both onnxruntime builds.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DataType,
  fromIntTensorProto,
  graphOf,
  int64,
  loadModel,
  type ModelProto,
  opsetOf,
  toNumber,
} from '../../../models/onnx/index.js';
import { randomFeeds } from '../../../models/quantize/agreement.js';
import { type QuantizeReport, quantizeWeights } from '../../../models/quantize/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { makeModel, node, randomTensor, uniform } from '../autodiff/helpers.js';
import {
  foreignOps,
  optimizedOps,
  relativeL2,
  runNode,
  runWeb,
  TORCHVISION,
  withDequantizedWeights,
} from './helpers.js';

const cases: Array<[string, () => Promise<ModelProto>]> = [
  ['reference ViT', async () => buildVit(REFERENCE_VIT)],
  ['torchvision op17', () => loadModel(`${TORCHVISION}/tv_vit_tiny_op17.onnx`)],
  ['torchvision op14', () => loadModel(`${TORCHVISION}/tv_vit_tiny_op14.onnx`)],
];

describe.each(cases)('%s', (_label, load) => {
  let fp32: ModelProto;
  beforeAll(async () => {
    fp32 = await load();
  });

  describe.each([8, 4] as const)('int%i', (bits) => {
    let quantized: ModelProto;
    let report: QuantizeReport;
    beforeAll(() => {
      ({ model: quantized, report } = quantizeWeights(fp32, { bits }));
    });

    it('keeps inputs and outputs and uses default-domain ops at opset 21', () => {
      const g = graphOf(quantized);
      const f = graphOf(fp32);
      expect(JSON.stringify(g.input)).toBe(JSON.stringify(f.input));
      expect(JSON.stringify(g.output)).toBe(JSON.stringify(f.output));
      expect(foreignOps(quantized)).toEqual([]);
      expect(opsetOf(quantized)).toBe(21);
      expect(toNumber(quantized.irVersion)).toBeGreaterThanOrEqual(10);
      expect(g.node!.some((n) => n.opType === 'MatMulNBits')).toBe(false);
    });

    it('stores every quantized weight as codes and float32 scales, and nothing else in fp32', () => {
      const inits = new Map(graphOf(quantized).initializer!.map((t) => [t.name!, t]));
      expect(report.quantized.length).toBeGreaterThan(0);
      for (const w of report.quantized) {
        expect(inits.has(w.name)).toBe(false);
        const codes = fromIntTensorProto(inits.get(w.codes)!);
        expect(codes.dtype).toBe(bits === 4 ? 'int4' : 'int8');
        const levels = bits === 4 ? 7 : 127;
        expect(codes.data.every((c) => c >= -levels && c <= levels)).toBe(true);
        expect(inits.get(w.scale)!.dataType).toBe(DataType.FLOAT);
        expect(w.bytesAfter).toBeLessThan(w.bytesBefore / (bits === 4 ? 5 : 3));
      }
      expect(report.modelBytesAfter).toBeLessThan(report.modelBytesBefore);
    });

    it('computes what the fp32 graph computes with the dequantized weights (onnxruntime-web and -node)', async () => {
      const substituted = withDequantizedWeights(fp32, quantized, report);
      const feeds = randomFeeds(fp32, 4, 1);
      const output = graphOf(fp32).output![0].name!;
      const want = (await runWeb(substituted, feeds))[output];
      expect(relativeL2((await runWeb(quantized, feeds))[output], want)).toBeLessThan(1e-5);
      expect(relativeL2((await runNode(quantized, feeds))[output], want)).toBeLessThan(1e-5);
    });
  });
});

describe('what counts as a weight', () => {
  it('reference ViT: every linear and the patch embedding; the 64x10 classifier is too small', () => {
    const { report } = quantizeWeights(buildVit(REFERENCE_VIT), { bits: 4 });
    expect(report.quantized.map((w) => w.name).sort()).toEqual(
      [
        'embed.patch.weight',
        ...[0, 1, 2, 3].flatMap((b) =>
          ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map(
            (l) => `blocks.${b}.${l}.weight`,
          ),
        ),
      ].sort(),
    );
    expect(report.quantized.find((w) => w.name === 'embed.patch.weight')).toMatchObject({
      kind: 'conv',
      blockSize: null,
      fused: 0,
      unfused: 1,
    });
    expect(
      report.quantized.filter((w) => w.kind === 'matmul').every((w) => w.fused === 1 && !w.transposed),
    ).toBe(true);
    expect(report.skipped).toEqual([
      { name: 'head.weight', dims: [64, 10], reason: '640 elements, fewer than minElements 1024' },
    ]);
  });

  it('torchvision: Linear weights [out, in] behind Transpose or Gemm(transB) are quantized as W^T', async () => {
    const { model, report } = quantizeWeights(await loadModel(`${TORCHVISION}/tv_vit_tiny_op17.onnx`), {
      bits: 8,
    });
    const linear = report.quantized.filter((w) => w.kind === 'matmul');
    expect(linear).toHaveLength(8);
    expect(linear.every((w) => w.transposed && w.fused === 1 && w.unfused === 0)).toBe(true);
    // The out_proj Gemms became MatMul + Add, and the Transposes of the weights are gone.
    const ops = graphOf(model).node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(1); // the fp32 classifier
    const transposed = graphOf(model).node!.filter(
      (n) => n.opType === 'Transpose' && report.quantized.some((w) => n.input![0].startsWith(w.name)),
    );
    expect(transposed).toEqual([]);
  });

  it('keep and minElements leave weights in fp32 and say why', () => {
    const { report } = quantizeWeights(buildVit(REFERENCE_VIT), {
      bits: 8,
      keep: [/^embed\./, /fc2/],
      minElements: 0,
    });
    expect(report.quantized.map((w) => w.name)).toContain('head.weight');
    expect(report.quantized.some((w) => w.name.startsWith('embed.') || w.name.includes('fc2'))).toBe(false);
    expect(report.skipped.find((s) => s.name === 'blocks.2.mlp.fc2.weight')?.reason).toBe(
      'kept in fp32 by /fc2/',
    );
  });

  it('a K smaller than one block is skipped', () => {
    const { report } = quantizeWeights(buildVit({ ...REFERENCE_VIT, depth: 1 }), {
      bits: 8,
      blockSize: 128,
      minElements: 0,
    });
    expect(report.skipped.find((s) => s.name === 'blocks.0.attn.q.weight')?.reason).toBe(
      'K = 64 is smaller than one block (128)',
    );
    expect(report.quantized.map((w) => w.name)).toEqual(['embed.patch.weight', 'blocks.0.mlp.fc2.weight']);
  });
});

describe('rewiring', () => {
  const rand = uniform(21);
  // Gemm with alpha/beta; a weight read by a MatMul and by a Gemm(transB); a
  // weight [N, K] read through Transpose by a MatMul and directly by ReduceSum.
  const model = makeModel({
    nodes: [
      node('Gemm', ['x', 'W1', 'C'], ['g1'], { alpha: { float: 0.5 }, beta: { float: 2 } }),
      node('MatMul', ['g1', 'W2'], ['m2']),
      node('Gemm', ['m2', 'W2'], ['g2'], { transB: 1 }),
      node('ReduceSum', ['W3', 'zero'], ['rs'], { keepdims: 0 }),
      node('Add', ['g2', 'rs'], ['h']),
      node('Transpose', ['W3'], ['W3t'], { perm: [1, 0] }),
      node('MatMul', ['h', 'W3t'], ['y']),
    ],
    inputs: { x: ['batch', 64] },
    outputs: ['y'],
    initializers: {
      W1: randomTensor(rand, [64, 48]),
      C: randomTensor(rand, [48]),
      W2: randomTensor(rand, [48, 48]),
      W3: randomTensor(rand, [32, 48]),
      zero: int64([1], [0]),
    },
  });

  it('fuses one product per weight, keeps the other readers exact', async () => {
    const { model: q, report } = quantizeWeights(model, { bits: 4, minElements: 0, blockSize: 16 });
    expect(report.quantized.map((w) => [w.name, w.transposed, w.fused, w.unfused])).toEqual([
      ['W1', false, 1, 0],
      ['W2', false, 1, 1],
      ['W3', true, 1, 1],
    ]);
    const ops = graphOf(q).node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(1);
    expect((await optimizedOps(q)).MatMulNBits).toBe(3);
    const feeds = { x: randomTensor(rand, [5, 64]) };
    const want = (await runWeb(withDequantizedWeights(model, q, report), feeds)).y;
    expect(relativeL2((await runWeb(q, feeds)).y, want)).toBeLessThan(1e-5);
    expect(relativeL2((await runNode(q, feeds)).y, want)).toBeLessThan(1e-5);
  });
});
