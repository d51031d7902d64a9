// The differentiator's contract: options, graph interface, losses, activity
// analysis, opset handling and error messages.
import { describe, expect, it } from 'vitest';
import { differentiate, supportedOps, trainableParameters } from '../../../models/autodiff/index.js';
import {
  DataType,
  float32,
  fromTensorProto,
  graphOf,
  type HostTensor,
  int64,
  onnx,
} from '../../../models/onnx/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { checkGradients, makeModel, node, randomTensor, relativeL2, run, uniform } from './helpers.js';

const rand = uniform(3);

/** logits = x @ w + b, with w trainable-or-frozen initializers. */
function linearModel() {
  return makeModel({
    nodes: [node('MatMul', ['x', 'w'], ['xw']), node('Add', ['xw', 'b'], ['logits'])],
    inputs: { x: ['batch', 4] },
    outputs: ['logits'],
    initializers: { w: randomTensor(rand, [4, 3]), b: randomTensor(rand, [3]) },
  });
}

describe('graph interface', () => {
  it('loss mode: inputs, trainables, outputs and frozen initializers', () => {
    const g = graphOf(differentiate(linearModel(), { wrt: ['w', 'x'], loss: 'cross-entropy' }));
    expect(g.input!.map((i) => [i.name, i.type?.tensorType?.elemType])).toEqual([
      ['x', DataType.FLOAT],
      ['labels', DataType.INT64],
      ['w', DataType.FLOAT],
    ]);
    expect(g.initializer!.map((t) => t.name)).toEqual(['b']);
    expect(g.output!.map((o) => o.name)).toEqual(['loss', 'logits', 'grad.w', 'grad.x']);
  });

  it('mse names its target input `targets`, shaped like the output', () => {
    const g = graphOf(differentiate(linearModel(), { wrt: ['b'], loss: 'mse' }));
    const targets = g.input!.find((i) => i.name === 'targets')!;
    expect(targets.type?.tensorType?.elemType).toBe(DataType.FLOAT);
    expect(targets.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual([
      'batch',
      3,
    ]);
  });

  it('seed mode: the gradient input replaces the loss', () => {
    const model = linearModel();
    const g = graphOf(
      differentiate(model, { wrt: ['w', 'b'], seed: { output: 'logits', gradInput: 'grad_logits' } }),
    );
    expect(g.input!.map((i) => i.name)).toEqual(['x', 'grad_logits', 'w', 'b']);
    expect(g.output!.map((o) => o.name)).toEqual(['logits', 'grad.w', 'grad.b']);
  });

  it('a tensor the objective does not depend on gets a zero gradient of its shape', async () => {
    const model = makeModel({
      nodes: [node('Mul', ['a', 'a'], ['y']), node('Neg', ['c'], ['unused'])],
      inputs: { a: [2], c: [3] },
      outputs: ['y', 'unused'],
    });
    const out = await run(differentiate(model, { wrt: ['a', 'c'], seed: { output: 'y', gradInput: 'gy' } }), {
      a: float32([2], [1, 2]),
      c: float32([3], [1, 2, 3]),
      gy: float32([2], [1, 1]),
    });
    expect(Array.from(out['grad.a'].data as Float32Array)).toEqual([2, 4]);
    expect(out['grad.c'].dims).toEqual([3]);
    expect(Array.from(out['grad.c'].data as Float32Array)).toEqual([0, 0, 0]);
  });

  it('several seeds accumulate', async () => {
    const model = makeModel({
      nodes: [node('Mul', ['a', 'a'], ['y']), node('Neg', ['a'], ['z'])],
      inputs: { a: [2] },
      outputs: ['y', 'z'],
    });
    const backward = differentiate(model, {
      wrt: ['a'],
      seed: [
        { output: 'y', gradInput: 'gy' },
        { output: 'z', gradInput: 'gz' },
      ],
    });
    const out = await run(backward, {
      a: float32([2], [1, 2]),
      gy: float32([2], [1, 1]),
      gz: float32([2], [1, 1]),
    });
    expect(Array.from(out['grad.a'].data as Float32Array)).toEqual([1, 3]);
  });
});

describe('losses', () => {
  const logits = float32([3, 4], [0.5, -1, 2, 0.1, 1.5, 0.2, -0.3, 0.9, -2, 0.4, 0.7, 1.1]);
  const labels = int64([3], [2, 0, 3]);
  const identity = () =>
    makeModel({
      nodes: [node('Identity', ['x'], ['logits'])],
      inputs: { x: ['batch', 4] },
      outputs: ['logits'],
    });

  it('cross-entropy: mean -log softmax[label], gradient (softmax - onehot) / batch', async () => {
    const out = await run(differentiate(identity(), { wrt: ['x'], loss: 'cross-entropy' }), {
      x: logits,
      labels,
    });
    let loss = 0;
    const grad: number[] = [];
    for (let b = 0; b < 3; b++) {
      const row = Array.from(logits.data.slice(b * 4, b * 4 + 4) as Float32Array);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      loss -= Math.log(Math.exp(row[Number(labels.data[b])]) / z) / 3;
      for (const [c, v] of row.entries())
        grad.push((Math.exp(v) / z - (c === Number(labels.data[b]) ? 1 : 0)) / 3);
    }
    expect(out.loss.dims).toEqual([]);
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(loss, 6);
    expect(relativeL2(out['grad.x'].data as Float32Array, grad)).toBeLessThan(1e-6);
  });

  it('mse: mean over all elements, gradient 2 (y - t) / n', async () => {
    const targets = float32(
      [3, 4],
      Array.from({ length: 12 }, (_, i) => i / 10),
    );
    const out = await run(differentiate(identity(), { wrt: ['x'], loss: 'mse' }), { x: logits, targets });
    const y = logits.data as Float32Array;
    const t = targets.data as Float32Array;
    const loss = y.reduce((s, v, i) => s + (v - t[i]) ** 2, 0) / 12;
    expect(out.loss.dims).toEqual([]);
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(loss, 6);
    const grad = Array.from(y, (v, i) => (2 * (v - t[i])) / 12);
    expect(relativeL2(out['grad.x'].data as Float32Array, grad)).toBeLessThan(1e-6);
  });

  it('cross-entropy over a model: loss gradients match finite differences of the loss', async () => {
    const model = linearModel();
    const backward = differentiate(model, { wrt: ['w', 'b'], loss: 'cross-entropy' });
    const g = graphOf(model).initializer!;
    const w = fromTensorProto(g[0]) as HostTensor & { dtype: 'float32' };
    const b = fromTensorProto(g[1]);
    const feeds = { x: randomTensor(rand, [5, 4]), labels: int64([5], [0, 2, 1, 1, 0]), b };
    const out = await run(backward, { ...feeds, w });
    const analytic = out['grad.w'].data as Float32Array;
    const eps = 1e-2;
    const fd: number[] = [];
    for (let j = 0; j < w.data.length; j++) {
      const plus = Float32Array.from(w.data);
      const minus = Float32Array.from(w.data);
      plus[j] += eps;
      minus[j] -= eps;
      const lp = (await run(backward, { ...feeds, w: { ...w, data: plus } })).loss.data as Float32Array;
      const lm = (await run(backward, { ...feeds, w: { ...w, data: minus } })).loss.data as Float32Array;
      fd.push((lp[0] - lm[0]) / (plus[j] - minus[j]));
    }
    expect(relativeL2(analytic, fd)).toBeLessThan(1e-3);
  });
});

describe('activity analysis', () => {
  it('integer shape arithmetic feeding float math is a constant, not differentiated', async () => {
    // y = x * float(shape(x)[1]): Shape, Gather and Cast have no rules and must not need any.
    const model = makeModel({
      nodes: [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'one'], ['d'], { axis: 0 }),
        node('Cast', ['d'], ['df'], { to: DataType.FLOAT }),
        node('Mul', ['x', 'df'], ['y']),
      ],
      inputs: { x: ['B', 3] },
      outputs: ['y'],
      initializers: { one: int64([], [1]) },
    });
    const { errors, analytic } = await checkGradients({
      model,
      feeds: { x: randomTensor(rand, [2, 3]) },
      wrt: ['x'],
    });
    expect(errors.x).toBeLessThan(1e-3);
    expect(analytic.x.length).toBe(6);
  });

  it('an op without a rule off the active path is copied as-is', async () => {
    const model = makeModel({
      nodes: [node('Einsum', ['c', 'd'], ['cd'], { equation: 'ij,jk->ik' }), node('Add', ['a', 'cd'], ['y'])],
      inputs: { a: [2, 2], c: [2, 3], d: [3, 2] },
      outputs: ['y'],
    });
    const backward = differentiate(model, { wrt: ['a'], seed: { output: 'y', gradInput: 'gy' } });
    const out = await run(backward, {
      a: randomTensor(rand, [2, 2]),
      c: randomTensor(rand, [2, 3]),
      d: randomTensor(rand, [3, 2]),
      gy: float32([2, 2], [1, 2, 3, 4]),
    });
    expect(Array.from(out['grad.a'].data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('a gradient path hidden inside an If subgraph is reported, not dropped', () => {
    const branch = (op: string) =>
      onnx.GraphProto.create({
        name: op,
        node: [node(op, ['a'], [`${op}_out`])],
        output: [onnx.ValueInfoProto.create({ name: `${op}_out` })],
      });
    const model = makeModel({
      nodes: [
        onnx.NodeProto.create({
          opType: 'If',
          name: 'choose',
          input: ['cond'],
          output: ['y'],
          attribute: [
            { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('Neg') },
            { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('Exp') },
          ],
        }),
      ],
      inputs: { a: [2], cond: { elemType: DataType.BOOL, dims: [] } },
      outputs: ['y'],
    });
    expect(() => differentiate(model, { wrt: ['a'], loss: 'mse' })).toThrow(
      /no gradient rule for operator If \(node 'choose'\)/,
    );
  });

  it('differentiates a graph whose nodes are not stored in topological order', async () => {
    const model = makeModel({
      nodes: [node('Mul', ['h', 'h'], ['y']), node('Exp', ['a'], ['h'])],
      inputs: { a: [3] },
      outputs: ['y'],
    });
    const { errors } = await checkGradients({ model, feeds: { a: randomTensor(rand, [3]) }, wrt: ['a'] });
    expect(errors.a).toBeLessThan(1e-3);
  });

  it('trainableParameters lists float initializers on a path to the output', () => {
    const model = makeModel({
      nodes: [
        node('Reshape', ['x', 'shape'], ['xr']),
        node('MatMul', ['xr', 'w'], ['y']),
        node('Mul', ['unusedWeight', 'unusedWeight'], ['dead']),
      ],
      inputs: { x: [2, 4] },
      outputs: ['y'],
      initializers: {
        w: randomTensor(rand, [4, 3]),
        shape: int64([2], [2, 4]),
        unusedWeight: randomTensor(rand, [2]),
      },
    });
    expect(trainableParameters(model)).toEqual(['w']);
  });

  it("the project's own ViT builder: every parameter is trainable and differentiable", async () => {
    const model = buildVit({ ...REFERENCE_VIT, depth: 1 });
    const params = trainableParameters(model);
    expect(params.length).toBe(graphOf(model).initializer!.length);
    const backward = differentiate(model, { wrt: params, loss: 'cross-entropy' });
    expect(graphOf(backward).output!.filter((o) => o.name!.startsWith('grad.'))).toHaveLength(params.length);
  });
});

describe('errors and opsets', () => {
  it('an active operator without a rule names the op type and the node', () => {
    const model = makeModel({
      nodes: [node('Einsum', ['a', 'b'], ['y'], { equation: 'ij,jk->ik' })],
      inputs: { a: [2, 3], b: [3, 2] },
      outputs: ['y'],
    });
    expect(() => differentiate(model, { wrt: ['a'], loss: 'mse' })).toThrow(
      /no gradient rule for operator Einsum \(node 'Einsum_y'\)/,
    );
    expect(supportedOps).not.toContain('Einsum');
  });

  it('rejects unknown, non-float and empty wrt lists', () => {
    const model = makeModel({
      nodes: [node('Gather', ['a', 'i'], ['y'])],
      inputs: { a: [4, 2], i: { elemType: DataType.INT64, dims: [3] } },
      outputs: ['y'],
    });
    expect(() => differentiate(model, { wrt: ['nope'], loss: 'mse' })).toThrow(
      /'nope' is neither a graph input/,
    );
    expect(() => differentiate(model, { wrt: ['i'], loss: 'mse' })).toThrow(/'i' is not float32/);
    expect(() => differentiate(model, { wrt: [], loss: 'mse' })).toThrow(/wrt is empty/);
  });

  it('asks which output the loss reads when there are several', () => {
    const model = makeModel({
      nodes: [node('Neg', ['a'], ['y']), node('Neg', ['a'], ['z'])],
      inputs: { a: [2] },
      outputs: ['y', 'z'],
    });
    expect(() => differentiate(model, { wrt: ['a'], loss: 'mse' })).toThrow(/say which one/);
    expect(
      graphOf(differentiate(model, { wrt: ['a'], loss: 'mse', output: 'z' })).output!.map((o) => o.name),
    ).toEqual(['loss', 'y', 'z', 'grad.a']);
  });

  it('refuses to shadow an existing tensor name', () => {
    const model = makeModel({ nodes: [node('Neg', ['a'], ['loss'])], inputs: { a: [2] }, outputs: ['loss'] });
    expect(() => differentiate(model, { wrt: ['a'], loss: 'mse' })).toThrow(/'loss' is already used/);
  });

  it('upgrades opset 14 to 17 and refuses opsets before 13', () => {
    const at = (opset: number) =>
      makeModel({ nodes: [node('Neg', ['a'], ['y'])], inputs: { a: [2] }, outputs: ['y'], opset });
    const upgraded = differentiate(at(14), { wrt: ['a'], loss: 'mse' });
    expect(upgraded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    expect(Number(upgraded.irVersion)).toBeGreaterThanOrEqual(8);
    expect(() => differentiate(at(12), { wrt: ['a'], loss: 'mse' })).toThrow(/opset 12/);
  });

  it('refuses nodes outside the default domain', () => {
    const model = makeModel({ nodes: [node('Neg', ['a'], ['y'])], inputs: { a: [2] }, outputs: ['y'] });
    graphOf(model).node![0].domain = 'com.microsoft';
    expect(() => differentiate(model, { wrt: ['a'], loss: 'mse' })).toThrow(/domain 'com.microsoft'/);
  });

  it('refuses grouped convolutions with a clear message', () => {
    const model = makeModel({
      nodes: [node('Conv', ['x', 'w'], ['y'], { group: 2 })],
      inputs: { x: [1, 4, 5, 5], w: [4, 2, 3, 3] },
      outputs: ['y'],
    });
    expect(() => differentiate(model, { wrt: ['w'], loss: 'mse' })).toThrow(
      /Conv node 'Conv_y': grouped convolution/,
    );
  });
});
