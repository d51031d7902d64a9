// The branch formulation, y = x·W + (x·Aᵀ)·(scale·Bᵀ) beside each MatMul,
// against the merge formulation, y = x·(W + scale·ΔW): the same function and
// the same gradients (within float rounding) on our ViT, a torchvision export
// and a quantized ViT, the same merged model, and base products onnxruntime
// still fuses into MatMulNBits, forward and backward.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { differentiate } from '../../../models/autodiff/index.js';
import { GraphBuilder } from '../../../models/graph/builder.js';
import {
  type FloatTensor,
  injectLora,
  type LoraFormulation,
  type LoraInjection,
  mergeAdapters,
  readTrainables,
  structuralTrainables,
} from '../../../models/lora/index.js';
import {
  DataType,
  encodeModel,
  graphOf,
  type HostTensor,
  int64,
  type ModelProto,
  onnx,
  valueInfo,
} from '../../../models/onnx/index.js';
import { float32 } from '../../../models/onnx/tensor.js';
import { arrangeForFusion, quantizeWeights } from '../../../models/quantize/index.js';
import { resolveRecipe, STRUCTURAL_RECIPE } from '../../../models/training/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { loadTorchvision } from '../models/helpers.js';
import { optimizedOps } from '../quantize/helpers.js';

type Feeds = Record<string, HostTensor>;
type Options = ort.InferenceSession.SessionOptions;

const RANK = 4;
const ALPHA = 8;

async function run(model: ModelProto, feeds: Feeds, options: Options = {}) {
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3, ...options });
  try {
    const out = await session.run(
      Object.fromEntries(
        Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data as Float32Array, t.dims)]),
      ),
    );
    return Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, float32([...v.dims], v.data as Float32Array)]),
    ) as Record<string, FloatTensor>;
  } finally {
    await session.release();
  }
}

const wave = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed));

/** The initial values with every B clearly non-zero, so that A's gradient and the update are too. */
function trained(initial: Record<string, FloatTensor>): Record<string, FloatTensor> {
  return Object.fromEntries(
    Object.entries(initial).map(([k, v]) => [
      k,
      k.endsWith('.lora_B') ? { ...v, data: wave(v.data.length, k.length).map((x) => 0.05 * x) } : v,
    ]),
  );
}

/** Largest difference relative to the largest magnitude of `want`. */
function relativeError(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let size = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    size = Math.max(size, Math.abs(want[i]));
  }
  return diff / size;
}

const formulations = (m: ModelProto) =>
  Object.fromEntries(readTrainables(m).lora.map((r) => [r.base, r.formulation]));

/** Every node's inputs are produced before it (or are graph inputs/initializers), and no tensor is written twice. */
function expectTopological(model: ModelProto): void {
  const g = graphOf(model);
  const known = new Set([...(g.input ?? []), ...(g.initializer ?? [])].map((t) => t.name ?? ''));
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i) expect(known.has(i), `${n.name} reads ${i}`).toBe(true);
    for (const o of n.output ?? []) {
      expect(known.has(o), `${o} written twice`).toBe(false);
      known.add(o);
    }
  }
  const names = (g.node ?? []).map((n) => n.name);
  expect(new Set(names).size).toBe(names.length);
}

/**
 * Outputs and gradients (w.r.t. every adapter input and `input`) of the
 * injected model, seeded with a fixed upstream gradient of `output`.
 */
async function outputsAndGradients(
  injection: LoraInjection,
  feeds: Feeds,
  input: string,
  output: string,
  options: Options = {},
) {
  const values = trained(injection.initial);
  const backward = differentiate(injection.model, {
    wrt: [...injection.adapters.map((a) => a.name), input],
    seed: { output, gradInput: `grad_in.${output}` },
  });
  arrangeForFusion(backward);
  const forward = await run(injection.model, { ...feeds, ...values }, options);
  const { dims, data } = forward[output];
  const seed = float32(dims, wave(data.length, 5));
  const grads = await run(backward, { ...feeds, ...values, [`grad_in.${output}`]: seed }, options);
  return { forward, grads, values };
}

/**
 * Runs both formulations and expects the same outputs and gradients, within
 * float rounding: 1e-6 of the largest output, 1e-5 of the largest gradient
 * entry (a weight gradient sums over every token, in another order).
 */
async function expectSameFunction(
  model: ModelProto,
  targets: string[],
  feeds: Feeds,
  io: { input: string; output: string; options?: Options },
) {
  const inject = (formulation: LoraFormulation | 'auto') =>
    injectLora(model, { targets, rank: RANK, alpha: ALPHA, seed: 3, formulation });
  const branch = inject('auto');
  const merge = inject('merge');
  expect(branch.adapters).toEqual(merge.adapters);
  expect(branch.initial).toEqual(merge.initial);
  expectTopological(branch.model);
  const got = await outputsAndGradients(branch, feeds, io.input, io.output, io.options);
  const want = await outputsAndGradients(merge, feeds, io.input, io.output, io.options);
  expect(relativeError(got.forward[io.output].data, want.forward[io.output].data)).toBeLessThan(1e-6);
  const names = [...branch.adapters.map((a) => a.name), io.input];
  for (const name of names) {
    const key = `grad.${name}`;
    expect(relativeError(got.grads[key].data, want.grads[key].data), key).toBeLessThan(1e-5);
  }
  return { branch, merge, values: got.values, output: got.forward[io.output].data };
}

describe('branch formulation on single layers', () => {
  const IN = 5;
  const OUT = 3;
  type Kind = 'matmul' | 'transpose' | 'gemm' | 'shared';

  /** y = x·W + bias in one convention; `shared`: two MatMuls read the same W. */
  function layer(kind: Kind): ModelProto {
    const g = new GraphBuilder();
    const x = g.input(valueInfo('x', DataType.FLOAT, [2, 4, IN]));
    const outIn = kind === 'transpose';
    const w = g.initializer('w', float32(outIn ? [OUT, IN] : [IN, OUT], wave(IN * OUT, 1)));
    const b = g.initializer('b', float32([OUT], wave(OUT, 2)));
    let y: string;
    if (kind === 'gemm') {
      const flat = g.op('Reshape', [x, g.initializer('flat', int64([2], [-1, 5]))]);
      y = g.op('Gemm', [flat, w, b], { outputs: ['y'] });
    } else if (kind === 'shared') {
      y = g.op('Add', [g.op('MatMul', [x, w]), g.op('MatMul', [g.op('Sigmoid', [x]), w])], {
        outputs: ['y'],
      });
    } else {
      const weight = outIn ? g.op('Transpose', [w], { attrs: { perm: [1, 0] } }) : w;
      y = g.op('Add', [g.op('MatMul', [x, weight]), b], { outputs: ['y'] });
    }
    g.output(valueInfo(y, DataType.FLOAT, kind === 'gemm' ? [8, OUT] : [2, 4, OUT]));
    return onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: g.graph('layer'),
    });
  }

  const x = { x: float32([2, 4, IN], wave(2 * 4 * IN, 3)) };

  it.each<Kind>(['matmul', 'transpose', 'shared'])(
    '%s: the products keep their inputs, and only default-domain MatMul/Transpose/Mul/Add are added',
    async (kind) => {
      const base = layer(kind);
      const baseNodes = graphOf(base).node ?? [];
      const { model } = injectLora(base, { targets: ['w'], rank: 2, alpha: 3, seed: 0 });
      expect(formulations(model)).toEqual({ w: 'branch' });
      const nodes = graphOf(model).node ?? [];
      const added = nodes.filter((n) => n.name?.startsWith('/lora/'));
      expect(nodes.length - added.length).toBe(baseNodes.length);
      expect(new Set(added.map((n) => n.opType))).toEqual(
        new Set(['Transpose', 'Constant', 'Mul', 'MatMul', 'Add']),
      );
      expect(added.every((n) => !n.domain)).toBe(true);
      // Every original node is there with the same op and inputs; a product writes `<w>.lora_frozen…`.
      const original = nodes.filter((n) => !n.name?.startsWith('/lora/'));
      expect(original.map((n) => [n.opType, n.input])).toEqual(baseNodes.map((n) => [n.opType, n.input]));
      const products = original.filter((n) => n.output?.[0]?.startsWith('w.lora_frozen'));
      expect(products).toHaveLength(kind === 'shared' ? 2 : 1);
      expect(products.every((n) => n.opType === 'MatMul')).toBe(true);
      expectTopological(model);
      await expectSameFunction(base, ['w'], x, { input: 'x', output: 'y' });
    },
  );

  it("a Gemm reader falls back to the merge under 'auto', and is refused under 'branch'", async () => {
    const base = layer('gemm');
    const { model } = injectLora(base, { targets: ['w'], rank: 2, alpha: 3, seed: 0 });
    expect(formulations(model)).toEqual({ w: 'merge' });
    expect(() =>
      injectLora(base, { targets: ['w'], rank: 2, alpha: 3, seed: 0, formulation: 'branch' }),
    ).toThrow('cannot add LoRA to w as a branch: it is read by Gemm');
  });

  it('merge and branch fold into the same model', () => {
    for (const kind of ['matmul', 'transpose', 'shared'] as const) {
      const base = layer(kind);
      const [branch, merge] = (['branch', 'merge'] as const).map((formulation) =>
        injectLora(base, { targets: ['w'], rank: 2, alpha: 3, seed: 0, formulation }),
      );
      const values = trained(branch.initial);
      const folded = encodeModel(mergeAdapters(branch.model, values));
      expect(folded).toEqual(encodeModel(mergeAdapters(merge.model, values)));
      expect(graphOf(mergeAdapters(branch.model, values)).node?.map((n) => n.output)).toEqual(
        graphOf(base).node?.map((n) => n.output),
      );
    }
  });

  it('rejects an unknown formulation', () => {
    const formulation = 'parallel' as unknown as LoraFormulation;
    expect(() =>
      injectLora(layer('matmul'), { targets: ['w'], rank: 2, alpha: 3, seed: 0, formulation }),
    ).toThrow("LoRA formulation must be 'auto', 'branch' or 'merge'");
  });
});

describe('branch formulation on the reference ViT', () => {
  const vit = buildVit(REFERENCE_VIT);
  const targets = structuralTrainables(graphOf(vit)).targets;
  const feeds = { pixels: float32([3, 1, 28, 28], wave(3 * 28 * 28, 7)) };

  it('gives the merge formulation’s logits and gradients, and folds into the same model', async () => {
    const { branch, merge, values } = await expectSameFunction(vit, targets, feeds, {
      input: 'pixels',
      output: 'logits',
    });
    expect(Object.values(formulations(branch.model))).toEqual(targets.map(() => 'branch'));
    expect(encodeModel(mergeAdapters(branch.model, values))).toEqual(
      encodeModel(mergeAdapters(merge.model, values)),
    );
  });
});

describe('branch formulation on the torchvision export tv_vit_tiny_op17', () => {
  it('takes the branch for Transpose → MatMul weights and the merge for Gemm ones, same function', async () => {
    const model = await loadTorchvision('tv_vit_tiny_op17.onnx');
    const targets = [...structuralTrainables(graphOf(model)).targets, 'heads.head.weight'];
    const feeds = { pixel_values: float32([2, 3, 32, 32], wave(2 * 3 * 32 * 32, 11)) };
    const { branch, merge, values } = await expectSameFunction(model, targets, feeds, {
      input: 'pixel_values',
      output: 'logits',
    });
    const used = formulations(branch.model);
    // The fused in_proj [96, 32] and the MLP go through Transpose → MatMul; out_proj and the classifier are Gemm.
    for (const t of targets) {
      expect(used[t], t).toBe(/in_proj_weight|mlp\.\d\.weight/.test(t) ? 'branch' : 'merge');
    }
    expect(encodeModel(mergeAdapters(branch.model, values))).toEqual(
      encodeModel(mergeAdapters(merge.model, values)),
    );
    expect(() =>
      injectLora(model, { targets, rank: RANK, alpha: ALPHA, seed: 0, formulation: 'branch' }),
    ).toThrow(/out_proj\.weight as a branch: it is read by Gemm/);
  });
});

describe('branch formulation on a quantized reference ViT', () => {
  const quantized = (bits: 4 | 8) => quantizeWeights(buildVit(REFERENCE_VIT), { bits }).model;
  const feeds = { pixels: float32([2, 1, 28, 28], wave(2 * 28 * 28, 13)) };

  it.each([8, 4] as const)(
    'int%i: adapters on the dequantized weights give the merge formulation’s logits and gradients',
    async (bits) => {
      const model = quantized(bits);
      const { targets } = resolveRecipe(model, STRUCTURAL_RECIPE);
      expect(targets).toHaveLength(24);
      // Unoptimised: onnxruntime-node's fused kernel would quantize the activations of
      // the branch's base products only, and this compares the arithmetic itself.
      const options: Options = { graphOptimizationLevel: 'disabled' };
      const { branch, values, output } = await expectSameFunction(model, targets, feeds, {
        input: 'pixels',
        output: 'logits',
        options,
      });
      expect(Object.values(formulations(branch.model))).toEqual(targets.map(() => 'branch'));
      // A merge keeps the quantized weights and their adapters, A and B as constants.
      const merged = mergeAdapters(branch.model, values);
      expect(graphOf(merged).input?.map((i) => i.name)).toEqual(['pixels']);
      const folded = (await run(merged, feeds, options)).logits.data;
      expect(relativeError(folded, output)).toBeLessThan(1e-6);
    },
  );

  it('int4: every adapted base product is fused into MatMulNBits, forward and backward', async () => {
    const model = quantized(4);
    const { targets } = resolveRecipe(model, STRUCTURAL_RECIPE);
    const inject = (formulation: LoraFormulation) =>
      injectLora(model, { targets, rank: 8, alpha: 16, seed: 0, formulation });
    const branch = inject('branch');
    expect((await optimizedOps(branch.model)).MatMulNBits).toBe(targets.length);
    // For contrast: merged weights are computed matrices, and nothing fuses.
    expect((await optimizedOps(inject('merge').model)).MatMulNBits ?? 0).toBe(0);

    const backward = differentiate(branch.model, {
      wrt: [...branch.adapters.map((a) => a.name), 'pixels'],
      seed: { output: 'logits', gradInput: 'grad_in.logits' },
    });
    expect(arrangeForFusion(backward).fusable).toBe(targets.length);
    expect((await optimizedOps(backward)).MatMulNBits).toBe(targets.length);
  });

  it('LoRA first, then quantization: the adapted weights are still quantized and fused', async () => {
    const vit = buildVit(REFERENCE_VIT);
    const { targets } = resolveRecipe(vit, STRUCTURAL_RECIPE);
    const branch = injectLora(vit, { targets, rank: 8, alpha: 16, seed: 0, formulation: 'branch' });
    const { model, report } = quantizeWeights(branch.model, { bits: 4 });
    expect(report.quantized.map((w) => w.name)).toEqual(expect.arrayContaining(targets));
    expect((await optimizedOps(model)).MatMulNBits).toBe(targets.length);
    const values = trained(branch.initial);
    const options: Options = { graphOptimizationLevel: 'disabled' };
    const adapted = (await run(model, { ...feeds, ...values }, options)).logits.data;
    const merged = (await run(mergeAdapters(model, values), feeds, options)).logits.data;
    expect(relativeError(merged, adapted)).toBeLessThan(1e-6);
  });
});
