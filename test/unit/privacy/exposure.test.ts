// The manifest's uplink check agrees with the black-box probe on the built
// heads (affine at the patch embedding, not after an encoder block), follows
// products and residual paths in small graphs, and the SDK warns once per
// model about an affine uplink.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { warnIfAffineUplink } from '../../../client-sdk/privacy-warning.js';
import { GraphBuilder } from '../../../models/graph/builder.js';
import { DataType, type ModelProto, onnx, valueInfo } from '../../../models/onnx/index.js';
import { float32 } from '../../../models/onnx/tensor.js';
import { uplinkExposure } from '../../../models/split/exposure.js';
import type { Manifest } from '../../../protocol/manifest.js';
import { probeAffine } from '../../../scripts/privacy/analytic.js';
import { loadHead } from '../../../scripts/privacy/uplink.js';

const manifestOf = (model: string) =>
  JSON.parse(readFileSync(`artifacts/${model}/manifest.json`, 'utf8')) as Manifest;

/** x [1, 4] through `body`, out y. */
function graph(body: (g: GraphBuilder, x: string) => string): ModelProto {
  const g = new GraphBuilder();
  const x = g.input(valueInfo('x', DataType.FLOAT, ['batch', 4]));
  g.op('Identity', [body(g, x)], { outputs: ['y'] });
  g.output(valueInfo('y', DataType.FLOAT, ['batch', 4]));
  return onnx.ModelProto.create({ opsetImport: [{ domain: '', version: 17 }], graph: g.graph('t') });
}

const affine = (m: ModelProto) => uplinkExposure(m, 'x', 'y', { input: 4, cut: 4 }).affineUplink;

describe('the uplink check', () => {
  it('agrees with the black-box probe on the built heads', async () => {
    for (const [model, expected] of [
      ['vit-fashion', true],
      ['vit-mnist-deep', false],
    ] as const) {
      const manifest = manifestOf(model);
      expect(manifest.privacy?.affineUplink, model).toBe(expected);
      const head = await loadHead(`artifacts/${model}`, manifest);
      expect((await probeAffine(head.run, 784)) !== null, model).toBe(expected);
      await head.release();
    }
    expect(manifestOf('vit-mnist-deep').privacy?.reason).toMatch(/LayerNormalization/);
  });

  it('follows products, divisions and residual paths', () => {
    let weights = 0;
    const w = (g: GraphBuilder) =>
      g.initializer(`w${weights++}`, float32([4, 4], new Float32Array(16).fill(0.5)));
    expect(affine(graph((g, x) => g.op('Add', [g.op('MatMul', [x, w(g)]), w(g)])))).toBe(true);
    expect(affine(graph((g, x) => g.op('Div', [x, w(g)])))).toBe(true);
    expect(affine(graph((g, x) => g.op('Div', [w(g), x])))).toBe(false);
    expect(affine(graph((g, x) => g.op('Mul', [x, x])))).toBe(false);
    expect(affine(graph((g, x) => g.op('Relu', [x])))).toBe(false);
    // A residual path: the affine branch plus a nonlinear one is not affine.
    expect(affine(graph((g, x) => g.op('Add', [x, g.op('Tanh', [x])])))).toBe(false);
    // Shapes depend on the input's shape only.
    expect(affine(graph((g, x) => g.op('Reshape', [x, g.op('Shape', [g.op('Relu', [x])])])))).toBe(true);
  });

  it('the SDK warns once per model whose uplink is affine, and not at all otherwise', () => {
    const sink = vi.fn();
    const fashion = manifestOf('vit-fashion');
    warnIfAffineUplink(fashion, sink);
    warnIfAffineUplink(fashion, sink);
    warnIfAffineUplink(manifestOf('vit-mnist-deep'), sink);
    expect(sink).toHaveBeenCalledTimes(1);
    expect(sink.mock.calls[0][0]).toMatch(/vit-fashion.*reconstruct the input/);
  });
});
