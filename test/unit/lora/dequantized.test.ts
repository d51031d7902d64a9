// LoRA on a quantized weight: the adapted tensor is the DequantizeLinear
// output that the MatMul reads, in either storage layout, found by name or by
// structure, and a merge keeps the weight quantized with the adapter beside it.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { GraphBuilder } from '../../../models/graph/builder.js';
import {
  type FloatTensor,
  injectLora,
  mergeAdapters,
  structuralTrainables,
  trainableInputs,
} from '../../../models/lora/index.js';
import {
  DataType,
  encodeModel,
  fromTensorProto,
  graphOf,
  type ModelProto,
  onnx,
  type TensorProto,
  valueInfo,
} from '../../../models/onnx/index.js';
import { float32 } from '../../../models/onnx/tensor.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { maxAbsDiff, pixels } from '../models/helpers.js';

const IN = 6;
const OUT = 4;
const BATCH = 3;
const SCALE = 0.02;

const int8 = (name: string, dims: number[], values: Int8Array): TensorProto =>
  onnx.TensorProto.create({ name, dims, dataType: DataType.INT8, rawData: new Uint8Array(values.buffer) });

const codesOf = (n: number, seed: number) => {
  const u = mulberry32(seed);
  return Int8Array.from({ length: n }, () => Math.round(254 * u() - 127));
};

/** y = x·W with W = DequantizeLinear(codes, scale): [in, out] read directly, or torch's [out, in] via Transpose. */
function quantizedLayer(torch: boolean, codes: Int8Array): ModelProto {
  const g = new GraphBuilder();
  const x = g.input(valueInfo('x', DataType.FLOAT, [BATCH, IN]));
  const s = g.initializer('w_scale', float32([], [SCALE]));
  const w = g.op('DequantizeLinear', ['w_quantized', s], { outputs: ['w'] });
  const y = g.op('MatMul', [x, torch ? g.op('Transpose', [w], { attrs: { perm: [1, 0] } }) : w], {
    outputs: ['y'],
  });
  g.output(valueInfo(y, DataType.FLOAT, [BATCH, OUT]));
  const graph = g.graph('q');
  graph.initializer = [
    int8('w_quantized', torch ? [OUT, IN] : [IN, OUT], codes),
    ...(graph.initializer ?? []),
  ];
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
}

/**
 * Unoptimised: onnxruntime runs a per-tensor int8 DequantizeLinear → MatMul
 * (the base product, which the branch formulation leaves as it is) as an
 * integer product over dynamically quantized activations, which would hide
 * the exact arithmetic checked here.
 */
async function runExact(model: ModelProto, inputs: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: 'disabled',
  });
  try {
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

const feeds = (values: Record<string, FloatTensor>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));

describe.each([
  ['[in, out] read directly', false, 'branch'],
  ['[out, in] through a Transpose', true, 'branch'],
  ['[in, out] read directly', false, 'merge'],
  ['[out, in] through a Transpose', true, 'merge'],
] as const)('LoRA on a DequantizeLinear weight stored %s (%s)', (_, torch, formulation) => {
  const codes = codesOf(IN * OUT, 3);
  const model = quantizedLayer(torch, codes);
  const x = new ort.Tensor(
    'float32',
    Float32Array.from({ length: BATCH * IN }, (_, i) => Math.sin(i)),
    [BATCH, IN],
  );

  it('adapts the dequantized tensor, and the graph computes x·(W + scale·ΔW)', async () => {
    const {
      model: adapted,
      adapters,
      initial,
      scale,
    } = injectLora(model, {
      targets: ['w'],
      rank: 2,
      alpha: 3,
      seed: 0,
      formulation,
    });
    expect(adapters.map((a) => [a.name, a.shape])).toEqual([
      ['w.lora_A', [2, IN]],
      ['w.lora_B', [OUT, 2]],
    ]);
    const b = Float32Array.from({ length: OUT * 2 }, (_, i) => 0.1 * Math.cos(i + 1));
    const values: Record<string, FloatTensor> = {
      ...initial,
      'w.lora_B': { ...initial['w.lora_B'], data: b },
    };
    const a = values['w.lora_A'].data as Float32Array;
    // Independent reference: W[i][o] = scale·codes + s·(B·A)[o][i].
    const want = new Float32Array(BATCH * OUT);
    const xs = x.data as Float32Array;
    for (let r = 0; r < BATCH; r++) {
      for (let o = 0; o < OUT; o++) {
        let sum = 0;
        for (let i = 0; i < IN; i++) {
          let ba = 0;
          for (let k = 0; k < 2; k++) ba += b[o * 2 + k] * a[k * IN + i];
          const q = codes[torch ? o * IN + i : i * OUT + o];
          sum += xs[r * IN + i] * (SCALE * q + scale * ba);
        }
        want[r * OUT + o] = sum;
      }
    }
    const got = (await runExact(adapted, { x, ...feeds(values) })).y.data as Float32Array;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);

    // The merge keeps the codes and bakes A and B in as constants beside them.
    const merged = mergeAdapters(adapted, values);
    expect(trainableInputs(merged)).toEqual([]);
    expect(merged.graph?.input?.map((i) => i.name)).toEqual(['x']);
    const q = merged.graph?.initializer?.find((t) => t.name === 'w_quantized');
    expect(q?.dataType).toBe(DataType.INT8);
    expect(maxAbsDiff((await runExact(merged, { x })).y.data as Float32Array, got)).toBeLessThan(1e-6);
  });

  it('refuses the integer codes themselves, by exact name', () => {
    expect(() => injectLora(model, { targets: ['w_quantized'], rank: 2, alpha: 2, seed: 0 })).toThrow(
      'LoRA target "w_quantized" selects no weight',
    );
  });
});

/** The reference ViT with every block's linear weights stored as int8 codes under DequantizeLinear. */
function quantizedVit(): ModelProto {
  const vit = buildVit({ ...REFERENCE_VIT, depth: 1 });
  const graph = graphOf(vit);
  const quantize = (t: TensorProto) => /^blocks\.\d+\.(attn|mlp)\..*\.weight$/.test(t.name ?? '');
  const initializer: TensorProto[] = [];
  const nodes: onnx.NodeProto[] = [];
  for (const t of graph.initializer ?? []) {
    if (!quantize(t)) {
      initializer.push(t);
      continue;
    }
    const w = fromTensorProto(t).data as Float32Array;
    const s = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
    initializer.push(
      int8(
        `${t.name}_quantized`,
        (t.dims ?? []).map(Number),
        Int8Array.from(w, (v) => v / s),
      ),
    );
    initializer.push(
      onnx.TensorProto.create({ name: `${t.name}_scale`, dataType: DataType.FLOAT, floatData: [s] }),
    );
    nodes.push(
      onnx.NodeProto.create({
        name: `/${t.name}/DequantizeLinear`,
        opType: 'DequantizeLinear',
        input: [`${t.name}_quantized`, `${t.name}_scale`],
        output: [t.name ?? ''],
      }),
    );
  }
  return onnx.ModelProto.create({
    ...vit,
    graph: onnx.GraphProto.create({ ...graph, initializer, node: [...nodes, ...(graph.node ?? [])] }),
  });
}

describe('structural LoRA targets on a quantized ViT', () => {
  it('are the dequantized weights, under the names their readers use', async () => {
    const model = quantizedVit();
    const found = structuralTrainables(graphOf(model));
    expect(found.targets).toEqual(
      ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map((p) => `blocks.0.${p}.weight`),
    );
    expect(found.full).toEqual(['embed.patch.weight', 'embed.patch.bias', 'head.weight', 'head.bias']);
    const { model: adapted, initial } = injectLora(model, { ...found, rank: 2, alpha: 4, seed: 0 });
    const x = pixels([2, 1, 28, 28]);
    // B = 0: the quantized model's logits. Unoptimised, because onnxruntime
    // may run the plain DequantizeLinear → MatMul of the base model as an
    // integer product, which the adapter's Add in between prevents.
    const logits = async (m: ModelProto, extra: Record<string, ort.Tensor> = {}) => {
      const session = await ort.InferenceSession.create(encodeModel(m), {
        graphOptimizationLevel: 'disabled',
      });
      try {
        return (await session.run({ pixels: x, ...extra })).logits.data as Float32Array;
      } finally {
        await session.release();
      }
    };
    expect(maxAbsDiff(await logits(adapted, feeds(initial)), await logits(model))).toBeLessThan(1e-6);
  });
});
