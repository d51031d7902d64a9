// Builds the reference ViT as a plain ONNX graph (opset 17) using only the
// operators the reverse-mode differentiator in models/autodiff understands.
// Parameter names follow timm (`blocks.0.attn.q.weight`, ...) so LoRA target
// patterns written for timm checkpoints match; q, k and v are separate
// matrices rather than one fused qkv so each can be adapted on its own.
import { GraphBuilder } from '../graph/builder.js';
import { DataType, type ModelProto, onnx, valueInfo } from '../onnx/index.js';
import { float32, int64 } from '../onnx/tensor.js';
import { tokenCount, type VitConfig, validateVitConfig } from './config.js';
import { WeightInit } from './init.js';

export const VIT_OPSET = 17;
export const VIT_IR_VERSION = 8;
export const VIT_INPUT = 'pixels';
export const VIT_OUTPUT = 'logits';
export const EMBED_OUT = 'embed.out';
export const blockOut = (i: number): string => `blocks.${i}.out`;

const LN_EPSILON = 1e-6;

interface Ctx {
  g: GraphBuilder;
  init: WeightInit;
  c: VitConfig;
}

/** `x @ W + b` with W stored [in, out] so the MatMul needs no transpose. */
function linear(ctx: Ctx, x: string, prefix: string, inDim: number, outDim: number): string {
  const { g, init } = ctx;
  const w = g.initializer(`${prefix}.weight`, init.truncNormal([inDim, outDim]));
  const b = g.initializer(`${prefix}.bias`, init.zeros([outDim]));
  return g.op('Add', [g.op('MatMul', [x, w]), b]);
}

function layerNorm(ctx: Ctx, x: string, prefix: string, output?: string): string {
  const { g, init, c } = ctx;
  const scale = g.initializer(`${prefix}.weight`, init.ones([c.width]));
  const bias = g.initializer(`${prefix}.bias`, init.zeros([c.width]));
  return g.op('LayerNormalization', [x, scale, bias], {
    attrs: { axis: -1, epsilon: { float: LN_EPSILON } },
    outputs: output ? [output] : undefined,
  });
}

const shapeConst = (g: GraphBuilder, dims: number[]) => g.constant(int64([dims.length], dims));
const scalar = (g: GraphBuilder, v: number) => g.constant(float32([], [v]));

/** pixels [B,C,H,W] → tokens [B, N+1, D] with cls token and position embedding. */
function embed(ctx: Ctx, pixels: string): string {
  const { g, init, c } = ctx;
  return g.within('embed', () => {
    const p = c.patchSize;
    const w = g.initializer('embed.patch.weight', init.truncNormal([c.width, c.channels, p, p]));
    const b = g.initializer('embed.patch.bias', init.zeros([c.width]));
    const cls = g.initializer('embed.cls_token', init.truncNormal([1, 1, c.width]));
    const pos = g.initializer('embed.pos', init.truncNormal([1, tokenCount(c), c.width]));
    const conv = g.op('Conv', [pixels, w, b], { attrs: { kernel_shape: [p, p], strides: [p, p] } });
    // Reshape's 0 copies the batch dim, so no Shape arithmetic is needed here.
    const flat = g.op('Reshape', [conv, shapeConst(g, [0, c.width, -1])]);
    const patches = g.op('Transpose', [flat], { attrs: { perm: [0, 2, 1] } });
    // Expand needs the batch size as a tensor; take it from the patches.
    const batch = g.op('Slice', [
      g.op('Shape', [patches]),
      shapeConst(g, [0]),
      shapeConst(g, [1]),
      shapeConst(g, [0]),
    ]);
    const clsShape = g.op('Concat', [batch, shapeConst(g, [1, 1])], { attrs: { axis: 0 } });
    const clsB = g.op('Expand', [cls, clsShape]);
    const tokens = g.op('Concat', [clsB, patches], { attrs: { axis: 1 } });
    return g.op('Add', [tokens, pos], { outputs: [EMBED_OUT] });
  });
}

/** Multi-head self-attention on [B, T, D]; returns the projected output [B, T, D]. */
function attention(ctx: Ctx, x: string, prefix: string): string {
  const { g, c } = ctx;
  return g.within('attn', () => {
    const headDim = c.width / c.heads;
    const split = shapeConst(g, [0, 0, c.heads, headDim]);
    const heads = (name: string, perm: number[]) =>
      g.within(name, () => {
        const y = linear(ctx, x, `${prefix}.attn.${name}`, c.width, c.width);
        return g.op('Transpose', [g.op('Reshape', [y, split])], { attrs: { perm } });
      });
    const q = heads('q', [0, 2, 1, 3]); // [B, H, T, Dh]
    const kT = heads('k', [0, 2, 3, 1]); // [B, H, Dh, T]
    const v = heads('v', [0, 2, 1, 3]); // [B, H, T, Dh]
    const scores = g.op('Mul', [g.op('MatMul', [q, kT]), scalar(g, 1 / Math.sqrt(headDim))]);
    const probs = g.op('Softmax', [scores], { attrs: { axis: -1 } });
    const ctxv = g.op('Transpose', [g.op('MatMul', [probs, v])], { attrs: { perm: [0, 2, 1, 3] } });
    const merged = g.op('Reshape', [ctxv, shapeConst(g, [0, 0, c.width])]);
    return g.within('proj', () => linear(ctx, merged, `${prefix}.attn.proj`, c.width, c.width));
  });
}

/** Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
function gelu(g: GraphBuilder, x: string): string {
  return g.within('gelu', () => {
    const e = g.op('Erf', [g.op('Div', [x, scalar(g, Math.SQRT2)])]);
    return g.op('Mul', [g.op('Mul', [x, g.op('Add', [e, scalar(g, 1)])]), scalar(g, 0.5)]);
  });
}

function mlp(ctx: Ctx, x: string, prefix: string): string {
  const { g, c } = ctx;
  const hidden = c.width * c.mlpRatio;
  return g.within('mlp', () => {
    const h = g.within('fc1', () => linear(ctx, x, `${prefix}.mlp.fc1`, c.width, hidden));
    return g.within('fc2', () => linear(ctx, gelu(g, h), `${prefix}.mlp.fc2`, hidden, c.width));
  });
}

/** Pre-LN encoder block: x + attn(ln1(x)), then + mlp(ln2(.)). */
function block(ctx: Ctx, x: string, i: number): string {
  const { g } = ctx;
  const prefix = `blocks.${i}`;
  return g.within('blocks', () =>
    g.within(String(i), () => {
      const a = attention(
        ctx,
        g.within('norm1', () => layerNorm(ctx, x, `${prefix}.norm1`)),
        prefix,
      );
      const mid = g.op('Add', [x, a]);
      const m = mlp(
        ctx,
        g.within('norm2', () => layerNorm(ctx, mid, `${prefix}.norm2`)),
        prefix,
      );
      return g.op('Add', [mid, m], { outputs: [blockOut(i)] });
    }),
  );
}

function head(ctx: Ctx, x: string): string {
  const { g, c } = ctx;
  return g.within('head', () => {
    const normed = g.within('norm', () => layerNorm(ctx, x, 'norm'));
    const clsTok = g.op('Gather', [normed, g.constant(int64([], [0]))], { attrs: { axis: 1 } });
    const { init } = ctx;
    const w = g.initializer('head.weight', init.truncNormal([c.width, c.classes]));
    const b = g.initializer('head.bias', init.zeros([c.classes]));
    return g.op('Add', [g.op('MatMul', [clsTok, w]), b], { outputs: [VIT_OUTPUT] });
  });
}

export function buildVit(config: VitConfig): ModelProto {
  validateVitConfig(config);
  const c = { ...config };
  const g = new GraphBuilder();
  const ctx: Ctx = { g, init: new WeightInit(c.seed), c };
  const pixels = g.input(
    valueInfo(VIT_INPUT, DataType.FLOAT, ['batch', c.channels, c.imageSize, c.imageSize]),
  );
  const stream = [c.width];
  const tokens = tokenCount(c);
  let x = embed(ctx, pixels);
  g.annotate(valueInfo(x, DataType.FLOAT, ['batch', tokens, ...stream]));
  for (let i = 0; i < c.depth; i++) {
    x = block(ctx, x, i);
    g.annotate(valueInfo(x, DataType.FLOAT, ['batch', tokens, ...stream]));
  }
  head(ctx, x);
  g.output(valueInfo(VIT_OUTPUT, DataType.FLOAT, ['batch', c.classes]));
  return onnx.ModelProto.create({
    irVersion: VIT_IR_VERSION,
    producerName: 'splitflare',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: VIT_OPSET }],
    graph: g.graph('vit'),
  });
}
