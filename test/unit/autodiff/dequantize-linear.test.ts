// DequantizeLinear (opset 21, blocked int4 and per-axis int8) holds frozen
// quantized weights: gradients flow past it to activations and float
// parameters, and its own inputs are never differentiated.
import { describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import {
  float32,
  type HostTensor,
  type IntTensor,
  type onnx,
  toIntTensorProto,
} from '../../../models/onnx/index.js';
import { makeModel, node, randomTensor, relativeL2, run, uniform } from './helpers.js';

const rand = uniform(11);
const K = 64;
const N = 8;
const BLOCK = 32;

function codes(dtype: 'int4' | 'int8', dims: number[]): IntTensor {
  const levels = dtype === 'int4' ? 7 : 127;
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype, dims, data: Int8Array.from({ length: n }, () => Math.round(rand(-levels, levels))) };
}

const scales = (dims: number[]) => {
  const t = randomTensor(rand, dims);
  return float32(
    dims,
    Array.from(t.data as Float32Array, (v) => 0.01 + Math.abs(v) * 0.02),
  );
};

/**
 * y = Gemm(MatMul(x, DQ(w: int4 [K, N] blocked)) + b, DQ(v: int8 [N, N] per row), transB=1).
 * `dequantized` replaces both DequantizeLinear nodes by fp32 initializers of their values.
 */
function models() {
  const w = codes('int4', [K, N]);
  const ws = scales([K / BLOCK, N]);
  const v = codes('int8', [N, N]);
  const vs = scales([N]);
  const wValue = Float32Array.from(
    w.data,
    (c, i) => c * (ws.data as Float32Array)[Math.floor(i / N / BLOCK) * N + (i % N)],
  );
  const vValue = Float32Array.from(v.data, (c, i) => c * (vs.data as Float32Array)[Math.floor(i / N)]);
  const b = randomTensor(rand, [N]);
  const tail = [
    node('MatMul', ['x', 'W'], ['xw']),
    node('Add', ['xw', 'b'], ['h']),
    node('Gemm', ['h', 'V'], ['y'], { transB: 1 }),
  ];
  const quantized = makeModel({
    nodes: [
      node('DequantizeLinear', ['w_q', 'w_scale'], ['W'], { axis: 0, block_size: BLOCK }),
      node('DequantizeLinear', ['v_q', 'v_scale'], ['V'], { axis: 0 }),
      ...tail,
    ],
    inputs: { x: ['batch', K] },
    outputs: ['y'],
    initializers: { w_scale: ws, v_scale: vs, b },
    opset: 21,
  });
  quantized.irVersion = 10;
  quantized.graph!.initializer!.push(
    toIntTensorProto('w_q', w) as onnx.TensorProto,
    toIntTensorProto('v_q', v) as onnx.TensorProto,
  );
  const dequantized = makeModel({
    nodes: tail,
    inputs: { x: ['batch', K] },
    outputs: ['y'],
    initializers: { W: float32([K, N], wValue), V: float32([N, N], vValue), b },
    opset: 21,
  });
  return { quantized, dequantized, b };
}

describe('DequantizeLinear in differentiated graphs', () => {
  it('gradients equal those of the graph with the dequantized values as fp32 constants', async () => {
    const { quantized, dequantized, b } = models();
    const x = randomTensor(rand, [3, K]);
    const gy = randomTensor(rand, [3, N]);
    const options = { wrt: ['x', 'b'], seed: { output: 'y', gradInput: 'gy' } };
    const feeds: Record<string, HostTensor> = { x, b, gy };
    const got = await run(differentiate(quantized, options), feeds);
    const want = await run(differentiate(dequantized, options), feeds);
    for (const name of ['grad.x', 'grad.b']) {
      expect(relativeL2(got[name].data as Float32Array, want[name].data as Float32Array), name).toBeLessThan(
        1e-5,
      );
    }
  });

  it('scales are not parameters, and asking for their gradient is refused', () => {
    const { quantized } = models();
    expect(trainableParameters(quantized)).toEqual(['b']);
    expect(() => differentiate(quantized, { wrt: ['w_scale'], loss: 'mse' })).toThrow(
      /DequantizeLinear node '.*' reads 'w_scale', which depends on a differentiated tensor: quantized weights are frozen/,
    );
    expect(() => differentiate(quantized, { wrt: ['W'], loss: 'mse' })).toThrow(
      "'W' is a quantized weight (DequantizeLinear output): it is frozen and has no gradient",
    );
  });
});
