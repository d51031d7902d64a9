// One linear layer per storage convention: the adapted graph on onnxruntime
// must equal y = x·W' (+ bias) with W' = W + scale·B·A computed right here,
// independently of the library's own merge code.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { GraphBuilder } from '../../../models/graph/builder.js';
import { type FloatTensor, injectLora, mergeAdapters } from '../../../models/lora/index.js';
import { DataType, type ModelProto, onnx, valueInfo } from '../../../models/onnx/index.js';
import { float32 } from '../../../models/onnx/tensor.js';
import { maxAbsDiff, run } from '../models/helpers.js';

const IN = 5;
const OUT = 3;
const BATCH = 4;
const RANK = 2;
const ALPHA = 3; // scale = 1.5

type Kind =
  | 'matmul [in,out]'
  | 'transpose→matmul [out,in]'
  | 'transpose (no perm)→matmul [out,in]'
  | 'gemm transB=1'
  | 'gemm transB=0';

const random = (n: number, seed: number) => {
  const u = mulberry32(seed);
  return Float32Array.from({ length: n }, () => 2 * u() - 1);
};

/** W is stored [in, out] for plain MatMul / Gemm transB=0 and [out, in] otherwise. */
const storedOutIn = (kind: Kind) => kind.includes('[out,in]') || kind === 'gemm transB=1';

function singleLayer(kind: Kind, w: Float32Array, bias: Float32Array): ModelProto {
  const g = new GraphBuilder();
  const x = g.input(valueInfo('x', DataType.FLOAT, [BATCH, IN]));
  const W = g.initializer('layer.weight', float32(storedOutIn(kind) ? [OUT, IN] : [IN, OUT], w));
  const b = g.initializer('layer.bias', float32([OUT], bias));
  let y: string;
  if (kind === 'matmul [in,out]') y = g.op('Add', [g.op('MatMul', [x, W]), b], { outputs: ['y'] });
  else if (kind.startsWith('transpose')) {
    const attrs: Record<string, number[]> = kind.includes('no perm') ? {} : { perm: [1, 0] };
    y = g.op('Add', [g.op('MatMul', [x, g.op('Transpose', [W], { attrs })]), b], { outputs: ['y'] });
  } else {
    y = g.op('Gemm', [x, W, b], { attrs: { transB: kind === 'gemm transB=1' ? 1 : 0 }, outputs: ['y'] });
  }
  g.output(valueInfo(y, DataType.FLOAT, [BATCH, OUT]));
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: g.graph('layer'),
  });
}

/** y = x·W' + bias with W'[i][o] = W[i][o] + scale·Σk B[o][k]·A[k][i], in float64. */
function expected(
  kind: Kind,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  a: Float32Array,
  b: Float32Array,
) {
  const scale = ALPHA / RANK;
  const wAt = (i: number, o: number) => (storedOutIn(kind) ? w[o * IN + i] : w[i * OUT + o]);
  const y = new Float64Array(BATCH * OUT);
  for (let n = 0; n < BATCH; n++) {
    for (let o = 0; o < OUT; o++) {
      let acc = bias[o];
      for (let i = 0; i < IN; i++) {
        let ba = 0;
        for (let k = 0; k < RANK; k++) ba += b[o * RANK + k] * a[k * IN + i];
        acc += x[n * IN + i] * (wAt(i, o) + scale * ba);
      }
      y[n * OUT + o] = acc;
    }
  }
  return y;
}

const ortOf = (t: FloatTensor) => new ort.Tensor('float32', t.data, t.dims);

describe.each<Kind>([
  'matmul [in,out]',
  'transpose→matmul [out,in]',
  'transpose (no perm)→matmul [out,in]',
  'gemm transB=1',
  'gemm transB=0',
])('LoRA on a single %s layer', (kind) => {
  const w = random(IN * OUT, 1);
  const bias = random(OUT, 2);
  const x = random(BATCH * IN, 3);
  const base = singleLayer(kind, w, bias);
  const injected = injectLora(base, { targets: ['layer.weight'], rank: RANK, alpha: ALPHA, seed: 7 });
  const A = 'layer.weight.lora_A';
  const B = 'layer.weight.lora_B';

  it('adds A [r, in] and B [out, r] as graph inputs, leaving W an initializer', () => {
    expect(injected.adapters).toEqual([
      { name: A, shape: [RANK, IN], base: 'layer.weight', role: 'lora_A' },
      { name: B, shape: [OUT, RANK], base: 'layer.weight', role: 'lora_B' },
    ]);
    expect(injected.scale).toBe(1.5);
    const graph = injected.model.graph;
    expect(graph?.input?.map((i) => i.name)).toEqual(['x', A, B]);
    expect(graph?.initializer?.map((t) => t.name)).toEqual(['layer.weight', 'layer.bias']);
    expect(Array.from(injected.initial[B].data)).toEqual(new Array(OUT * RANK).fill(0));
  });

  it('with B = 0 reproduces the base layer exactly', async () => {
    const feeds = { x: new ort.Tensor('float32', x, [BATCH, IN]) };
    const plain = (await run(base, feeds)).y.data as Float32Array;
    const adapted = (
      await run(injected.model, {
        ...feeds,
        [A]: ortOf(injected.initial[A]),
        [B]: ortOf(injected.initial[B]),
      })
    ).y.data as Float32Array;
    expect(Array.from(adapted)).toEqual(Array.from(plain));
  });

  it("with random A and B computes x·(W + scale·(B·A) in W's layout)", async () => {
    const a = random(RANK * IN, 4);
    const b = random(OUT * RANK, 5);
    const feeds = {
      x: new ort.Tensor('float32', x, [BATCH, IN]),
      [A]: new ort.Tensor('float32', a, [RANK, IN]),
      [B]: new ort.Tensor('float32', b, [OUT, RANK]),
    };
    const y = (await run(injected.model, feeds)).y.data as Float32Array;
    const want = expected(kind, x, w, bias, a, b);
    expect(maxAbsDiff(y, want)).toBeLessThan(1e-5);
    // Sanity: the update does move the output.
    const plain = (await run(base, { x: feeds.x })).y.data as Float32Array;
    expect(maxAbsDiff(y, plain)).toBeGreaterThan(1e-2);
    // Folding the same values into the weight gives the same layer.
    const merged = mergeAdapters(injected.model, { [A]: a, [B]: b });
    expect(merged.graph?.input?.map((i) => i.name)).toEqual(['x']);
    expect(merged.graph?.node?.length).toBe(base.graph?.node?.length);
    expect(maxAbsDiff((await run(merged, { x: feeds.x })).y.data as Float32Array, want)).toBeLessThan(1e-5);
  });
});
