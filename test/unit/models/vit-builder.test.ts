import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel, graphOf, initializerMap, onnx, opsetOf, shapeOf } from '../../../models/onnx/index.js';
import { toTensorProto } from '../../../models/onnx/tensor.js';
import { blockOut, buildVit, EMBED_OUT, REFERENCE_VIT, type VitConfig } from '../../../models/vit/index.js';
import { maxAbsDiff, pixels, run } from './helpers.js';
import { referenceForward } from './vit-reference.js';

const ALLOWED_OPS = new Set(
  'Conv MatMul Gemm Add Sub Mul Div Pow Sqrt Erf ReduceMean LayerNormalization Softmax Transpose Reshape Concat Slice Gather Identity Shape Unsqueeze Cast Expand Constant ConstantOfShape'.split(
    ' ',
  ),
);

describe('buildVit', () => {
  const model = buildVit(REFERENCE_VIT);
  const graph = graphOf(model);

  it('declares opset 17, IR 8, pixels [batch,1,28,28] → logits [batch,10]', () => {
    expect(opsetOf(model)).toBe(17);
    expect(Number(model.irVersion)).toBe(8);
    expect(graph.input?.map((i) => [i.name, shapeOf(i)])).toEqual([['pixels', ['batch', 1, 28, 28]]]);
    expect(graph.output?.map((o) => [o.name, shapeOf(o)])).toEqual([['logits', ['batch', 10]]]);
  });

  it('uses only the operators the differentiator supports', () => {
    const ops = new Set(graph.node?.map((n) => n.opType));
    expect([...ops].filter((op) => !ALLOWED_OPS.has(op ?? ''))).toEqual([]);
  });

  it('names the block boundaries, the LoRA targets and the node scopes', () => {
    const outputs = new Set(graph.node?.flatMap((n) => n.output ?? []));
    expect(outputs.has(EMBED_OUT)).toBe(true);
    for (let i = 0; i < REFERENCE_VIT.depth; i++) expect(outputs.has(blockOut(i))).toBe(true);
    const inits = initializerMap(graph);
    expect(inits.get('blocks.0.attn.q.weight')?.dims).toEqual([64, 64]);
    expect(inits.get('blocks.3.mlp.fc1.weight')?.dims).toEqual([64, 128]);
    expect(inits.get('embed.pos')?.dims).toEqual([1, 17, 64]);
    const names = graph.node?.map((n) => n.name ?? '') ?? [];
    expect(names.every((n) => /^\/(embed|blocks\/\d+|head)\//.test(n))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('is deterministic in the seed', () => {
    expect(encodeModel(buildVit(REFERENCE_VIT))).toEqual(encodeModel(model));
    expect(encodeModel(buildVit({ ...REFERENCE_VIT, seed: 2 }))).not.toEqual(encodeModel(model));
  });

  it('runs on onnxruntime-node at batch 1 and 5, each sample independent of the batch', async () => {
    const five = pixels([5, 1, 28, 28]);
    const outFive = (await run(model, { pixels: five })).logits;
    expect(outFive.dims).toEqual([5, 10]);
    const first = new Float32Array((five.data as Float32Array).subarray(0, 784));
    const outOne = (await run(model, { pixels: new ort.Tensor('float32', first, [1, 1, 28, 28]) })).logits;
    expect(outOne.dims).toEqual([1, 10]);
    const all = outFive.data as Float32Array;
    expect(maxAbsDiff(outOne.data as Float32Array, all.subarray(0, 10))).toBeLessThan(1e-6);
    expect(all.every(Number.isFinite)).toBe(true);
  });

  it('computes the ViT forward pass (checked against a plain TypeScript implementation)', async () => {
    const c: VitConfig = {
      imageSize: 8,
      channels: 2,
      patchSize: 4,
      width: 8,
      depth: 2,
      heads: 2,
      mlpRatio: 2,
      classes: 3,
      seed: 7,
    };
    const tiny = buildVit(c);
    // Random values everywhere, so zero biases and unit LayerNorm scales cannot hide a wiring mistake.
    let k = 0;
    const g = graphOf(tiny);
    g.initializer = (g.initializer ?? []).map((t) => {
      const host = initializerMap(onnx.GraphProto.create({ initializer: [t] })).get(t.name ?? '');
      if (host?.dtype !== 'float32') return t;
      for (let i = 0; i < host.data.length; i++) host.data[i] = 0.5 * Math.sin(++k * 1.618);
      return toTensorProto(t.name ?? '', host);
    });
    const x = pixels([2, 2, 8, 8], 3);
    const got = (await run(tiny, { pixels: x })).logits.data as Float32Array;
    const weights = initializerMap(g);
    const data = x.data as Float32Array;
    const want = [0, 1].flatMap((b) =>
      Array.from(referenceForward(data.subarray(b * 128, (b + 1) * 128), weights, c)),
    );
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });
});
