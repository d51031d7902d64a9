// Raising opset 13-20 models to 21: ops whose signature changed are rewritten
// and compute what they did; ops that cannot be rewritten are refused by name.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  encodeModel,
  graphOf,
  loadModel,
  type ModelProto,
  onnx,
  opsetOf,
  toNumber,
} from '../../../models/onnx/index.js';
import { quantizeWeights, raiseOpset } from '../../../models/quantize/index.js';
import { makeModel, node, randomTensor, uniform } from '../autodiff/helpers.js';
import { TORCHVISION } from './helpers.js';

const rand = uniform(5);

async function outputs(model: ModelProto, x: Float32Array, dims: number[]) {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const out = await session.run({ x: new ort.Tensor('float32', x, dims) });
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
}

const copy = (m: ModelProto) => onnx.ModelProto.decode(encodeModel(m));

describe('raiseOpset', () => {
  it('moves Reduce* axes to an input and gives Split its num_outputs; results are unchanged', async () => {
    const model = makeModel({
      nodes: [
        node('ReduceMean', ['x'], ['mean'], { axes: [-1] }),
        node('ReduceMax', ['x'], ['max'], { axes: [0, 2], keepdims: 0 }),
        node('ReduceL2', ['x'], ['l2']),
        node('Split', ['x'], ['a', 'b'], { axis: 1 }),
      ],
      inputs: { x: [2, 4, 3] },
      outputs: ['mean', 'max', 'l2', 'a', 'b'],
      opset: 17,
    });
    const raised = copy(model);
    const upgrade = raiseOpset(raised);
    expect(upgrade).toEqual({ from: 17, to: 21, converted: { ReduceMean: 1, ReduceMax: 1, Split: 1 } });
    expect(opsetOf(raised)).toBe(21);
    expect(toNumber(raised.irVersion)).toBe(10);
    const nodes = graphOf(raised).node!;
    expect(nodes[0].input).toHaveLength(2);
    expect(nodes[0].attribute!.map((a) => a.name)).not.toContain('axes');
    expect(nodes[3].attribute!.find((a) => a.name === 'num_outputs')?.i).toBe(2);
    const x = randomTensor(rand, [2, 4, 3]).data as Float32Array;
    expect(await outputs(raised, x, [2, 4, 3])).toEqual(await outputs(model, x, [2, 4, 3]));
  });

  it('torchvision op14 (decomposed LayerNorm) computes the same logits at opset 21', async () => {
    const model = await loadModel(`${TORCHVISION}/tv_vit_tiny_op14.onnx`);
    const raised = copy(model);
    expect(raiseOpset(raised).converted).toEqual({ ReduceMean: 10 });
    const x = randomTensor(rand, [2, 3, 32, 32]).data as Float32Array;
    const run = async (m: ModelProto) => {
      const session = await ort.InferenceSession.create(encodeModel(m));
      const out = await session.run({ pixel_values: new ort.Tensor('float32', x, [2, 3, 32, 32]) });
      return Array.from(out.logits.data as Float32Array);
    };
    expect(await run(raised)).toEqual(await run(model));
  });

  it('keeps other domains and leaves opset 21 and later alone', () => {
    const model = makeModel({
      nodes: [node('Relu', ['x'], ['y'])],
      inputs: { x: [2] },
      outputs: ['y'],
      opset: 17,
    });
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
    raiseOpset(model);
    expect(model.opsetImport.map((o) => [o.domain, toNumber(o.version)])).toEqual([
      ['com.microsoft', 1],
      ['', 21],
    ]);
    expect(raiseOpset(model)).toEqual({ from: 21, to: 21, converted: {} });
  });
});

describe('models that cannot be raised', () => {
  const withOp = (op: string, opset: number) =>
    makeModel({
      nodes: [node(op, ['x', 's', 'b'], ['y'], { num_groups: 1 })],
      inputs: { x: [1, 2, 3] },
      outputs: ['y'],
      opset,
    });

  it.each([
    [
      'GroupNormalization',
      18,
      /GroupNormalization node '.*' cannot be upgraded \(its scale and bias became per-channel at opset 21\)/,
    ],
    ['DFT', 17, /DFT node '.*' cannot be upgraded \(its axis became an input at opset 20\)/],
  ])('%s at opset %i is refused', (op, opset, message) => {
    expect(() => quantizeWeights(withOp(op, opset), { bits: 8 })).toThrow(message);
  });

  it('opsets below 13 are refused', () => {
    expect(() => raiseOpset(withOp('Relu', 12))).toThrow(
      /model uses opset 12; raising it to 21 needs opset 13/,
    );
  });
});
