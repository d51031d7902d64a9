// The gradient paths chosen for speed rather than by one rule per op:
// LayerNormalization reading its forward node's saved statistics, the folded
// exact-GELU chain, transposed products for attention-style MatMuls, Sum
// accumulation, constant reshape targets under a symbolic batch and dead-node
// pruning. Each is checked against finite differences (as in ops.test.ts) and
// for the graph shape that makes it fast.
import { describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import {
  float32,
  graphOf,
  type HostTensor,
  int64,
  type ModelProto,
  type onnx,
  toTensorProto,
} from '../../../models/onnx/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import {
  checkGradients,
  type Dim,
  type GraphSpec,
  makeModel,
  node,
  positive,
  randomTensor,
  relativeL2,
  run,
  uniform,
} from './helpers.js';

const TOLERANCE = 1e-3;
const rand = uniform(11);
const x = (...dims: number[]) => randomTensor(rand, dims);
/** Wide values: a LayerNorm row of a few near-equal values is too curved for finite differences. */
const wide = (...dims: number[]) => randomTensor(() => rand(-3, 3), dims);
const constant = (name: string, t: HostTensor) =>
  node('Constant', [], [name], { value: toTensorProto('', t) });
const scalar = (name: string, v: number) => constant(name, float32([], [v]));

async function expectGradients(spec: GraphSpec, feeds: Record<string, HostTensor>, wrt?: string[]) {
  const { errors } = await checkGradients({ model: makeModel(spec), feeds, wrt: wrt ?? Object.keys(feeds) });
  for (const [name, err] of Object.entries(errors)) expect(err, `grad.${name}`).toBeLessThan(TOLERANCE);
}

/** The backward graph in seed mode (no loss nodes in the way). */
function backwardOf(spec: GraphSpec, wrt: string[]): ModelProto {
  return differentiate(makeModel(spec), { wrt, seed: { output: spec.outputs[0], gradInput: 'seed_grad' } });
}

function emitted(model: ModelProto): onnx.INodeProto[] {
  return graphOf(model).node!.filter((n) => (n.name ?? '').startsWith('grad'));
}

describe('LayerNormalization with the forward node’s saved Mean and InvStdDev', () => {
  const ln = (axis: number | undefined, inputs: string[], outputs = ['y']) =>
    node('LayerNormalization', inputs, outputs, {
      epsilon: { float: 1e-5 },
      ...(axis === undefined ? {} : { axis }),
    });

  const cases: Array<{
    name: string;
    axis?: number;
    dims: number[];
    decl?: Dim[];
    normalized: number[];
    bias?: boolean;
  }> = [
    { name: 'axis -1 on [2,3,4]', dims: [2, 3, 4], normalized: [4] },
    { name: 'axis -1, symbolic batch and tokens', dims: [2, 3, 4], decl: ['B', 'T', 4], normalized: [4] },
    {
      name: 'axis 1 on [2,3,4] (two axes), no bias',
      axis: 1,
      dims: [2, 3, 4],
      normalized: [3, 4],
      bias: false,
    },
    { name: 'axis 0 on [2,3] (every axis)', axis: 0, dims: [2, 3], normalized: [2, 3] },
    { name: 'axis -2 on [2,2,3,4]', axis: -2, dims: [2, 2, 3, 4], normalized: [3, 4] },
    { name: 'axis -1 on a matrix [5,6]', dims: [5, 6], normalized: [6] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const bias = c.bias ?? true;
      const feeds: Record<string, HostTensor> = { a: wide(...c.dims), s: x(...c.normalized) };
      const inputs: Record<string, Dim[]> = { a: c.decl ?? c.dims, s: c.normalized };
      if (bias) {
        feeds.b = x(...c.normalized);
        inputs.b = c.normalized;
      }
      const spec = { nodes: [ln(c.axis, bias ? ['a', 's', 'b'] : ['a', 's'])], inputs, outputs: ['y'] };
      await expectGradients(spec, feeds);
    });
  }

  it('frozen scale and bias: only the input gradient', async () => {
    const spec: GraphSpec = {
      nodes: [ln(undefined, ['a', 's', 'b'])],
      inputs: { a: [3, 5] },
      outputs: ['y'],
      initializers: { s: x(5), b: x(5) },
    };
    await expectGradients(spec, { a: wide(3, 5) });
  });

  it('scale and bias only (the input is data)', async () => {
    const spec: GraphSpec = {
      nodes: [ln(undefined, ['a', 's', 'b'])],
      inputs: { a: [3, 5], s: [5], b: [5] },
      outputs: ['y'],
    };
    await expectGradients(spec, { a: wide(3, 5), s: x(5), b: x(5) }, ['s', 'b']);
  });

  it('reuses Mean and InvStdDev the forward node already outputs', async () => {
    const spec: GraphSpec = {
      nodes: [ln(undefined, ['a', 's', 'b'], ['y', 'mean', 'invstd'])],
      inputs: { a: [2, 3, 4], s: [4], b: [4] },
      outputs: ['y'],
    };
    await expectGradients(spec, { a: wide(2, 3, 4), s: x(4), b: x(4) });
    const lnNode = graphOf(backwardOf(spec, ['a'])).node!.find((n) => n.opType === 'LayerNormalization')!;
    expect(lnNode.output).toEqual(['y', 'mean', 'invstd']);
  });

  it('adds the statistics as outputs of the forward node, and recomputes neither', () => {
    const spec: GraphSpec = {
      nodes: [ln(undefined, ['a', 's', 'b'])],
      inputs: { a: [2, 3, 4], s: [4], b: [4] },
      outputs: ['y'],
    };
    const model = backwardOf(spec, ['a', 's', 'b']);
    const lnNode = graphOf(model).node!.find((n) => n.opType === 'LayerNormalization')!;
    expect(lnNode.output).toHaveLength(3);
    const ops = emitted(model).map((n) => n.opType);
    expect(ops).not.toContain('Sqrt');
    expect(ops).not.toContain('Reciprocal');
  });

  it('differentiates only the rows a following Gather reads (class token, a run of rows)', async () => {
    for (const [axis, indices, dims, gatherAxis, decl] of [
      [undefined, int64([], [0]), [], 1, ['B', 4, 5]],
      [1, int64([2], [1, 2]), [2], 0, [3, 4, 5]],
    ] as const) {
      const spec: GraphSpec = {
        nodes: [ln(axis, ['a', 's', 'b'], ['n']), node('Gather', ['n', 'i'], ['y'], { axis: gatherAxis })],
        inputs: { a: [...decl], s: axis === 1 ? [4, 5] : [5], b: axis === 1 ? [4, 5] : [5] },
        outputs: ['y'],
        initializers: { i: { ...indices, dims: [...dims] } },
      };
      const feeds = {
        a: wide(3, 4, 5),
        s: x(...(axis === 1 ? [4, 5] : [5])),
        b: x(...(axis === 1 ? [4, 5] : [5])),
      };
      await expectGradients(spec, feeds);
      const ops = emitted(backwardOf(spec, ['a', 's', 'b'])).map((n) => n.opType);
      expect(ops.filter((o) => o === 'Pad')).toHaveLength(1);
      expect(ops).toContain('Slice');
    }
  });

  it('stays accurate when the mean is large against the spread (float64 reference)', async () => {
    const [rows, width] = [4, 16];
    const a = Float32Array.from({ length: rows * width }, () => 300 + rand());
    const s = Float32Array.from({ length: width }, () => rand(0.5, 1.5));
    const g = Float32Array.from({ length: rows * width }, () => rand());
    const spec: GraphSpec = {
      nodes: [ln(undefined, ['a', 's', 'b'])],
      inputs: { a: [rows, width], s: [width], b: [width] },
      outputs: ['y'],
    };
    const out = await run(backwardOf(spec, ['a', 's']), {
      a: float32([rows, width], a),
      s: float32([width], s),
      b: float32([width], new Float32Array(width)),
      seed_grad: float32([rows, width], g),
    });
    // Closed form in float64 from the float32 inputs.
    const dx = new Float64Array(rows * width);
    const ds = new Float64Array(width);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(a.subarray(r * width, (r + 1) * width), Number);
      const mean = row.reduce((p, v) => p + v, 0) / width;
      const variance = row.reduce((p, v) => p + (v - mean) ** 2, 0) / width;
      const invstd = 1 / Math.sqrt(variance + 1e-5);
      const xhat = row.map((v) => (v - mean) * invstd);
      const dxhat = xhat.map((_, j) => g[r * width + j] * s[j]);
      const m1 = dxhat.reduce((p, v) => p + v, 0) / width;
      const m2 = dxhat.reduce((p, v, j) => p + v * xhat[j], 0) / width;
      for (let j = 0; j < width; j++) {
        dx[r * width + j] = invstd * (dxhat[j] - m1 - xhat[j] * m2);
        ds[j] += g[r * width + j] * xhat[j];
      }
    }
    expect(relativeL2(out['grad.a'].data as Float32Array, dx)).toBeLessThan(1e-3);
    expect(relativeL2(out['grad.s'].data as Float32Array, ds)).toBeLessThan(1e-3);
  });
});

describe('exact GELU spelled as five nodes is differentiated as one', () => {
  const dims = [2, 3, 4];
  const feeds = () => ({ a: x(...dims) });

  it('(x * (1 + erf(x / sqrt 2))) * 0.5, as torch.onnx.export writes it', async () => {
    const spec: GraphSpec = {
      nodes: [
        scalar('sqrt2', Math.SQRT2),
        scalar('one', 1),
        scalar('half', 0.5),
        node('Div', ['a', 'sqrt2'], ['u']),
        node('Erf', ['u'], ['e']),
        node('Add', ['e', 'one'], ['p']),
        node('Mul', ['a', 'p'], ['m']),
        node('Mul', ['m', 'half'], ['y']),
      ],
      inputs: { a: dims },
      outputs: ['y'],
    };
    await expectGradients(spec, feeds());
    const ops = emitted(backwardOf(spec, ['a'])).map((n) => n.opType);
    // The closed form: one Exp and no per-op Erf/Div derivatives.
    expect(ops.filter((o) => o === 'Exp')).toHaveLength(1);
    expect(ops).not.toContain('Div');
    expect(ops.filter((o) => ['Mul', 'Add', 'Sub', 'Exp'].includes(o ?? '')).length).toBeLessThanOrEqual(7);
  });

  it('(x * 0.5) * (1 + erf(x * (1 / sqrt 2))), operands swapped', async () => {
    const spec: GraphSpec = {
      nodes: [
        node('Mul', ['a', 'rsqrt2'], ['u']),
        node('Erf', ['u'], ['e']),
        node('Add', ['one', 'e'], ['p']),
        node('Mul', ['half', 'a'], ['m']),
        node('Mul', ['p', 'm'], ['y']),
      ],
      inputs: { a: dims },
      outputs: ['y'],
      initializers: {
        rsqrt2: float32([], [Math.SQRT1_2]),
        one: float32([1], [1]),
        half: float32([], [0.5]),
      },
    };
    await expectGradients(spec, feeds());
    expect(emitted(backwardOf(spec, ['a'])).filter((n) => n.opType === 'Exp')).toHaveLength(1);
  });

  it('is not folded when an inner tensor has another consumer', async () => {
    const spec: GraphSpec = {
      nodes: [
        scalar('sqrt2', Math.SQRT2),
        scalar('one', 1),
        scalar('half', 0.5),
        node('Div', ['a', 'sqrt2'], ['u']),
        node('Erf', ['u'], ['e']),
        node('Add', ['e', 'one'], ['p']),
        node('Mul', ['a', 'p'], ['m']),
        node('Mul', ['m', 'half'], ['h']),
        node('Add', ['h', 'e'], ['y']),
      ],
      inputs: { a: dims },
      outputs: ['y'],
    };
    await expectGradients(spec, feeds());
  });

  it('ONNX Gelu (opset 20) with approximate "none"', async () => {
    const spec: GraphSpec = {
      nodes: [node('Gelu', ['a'], ['y'])],
      inputs: { a: dims },
      outputs: ['y'],
      opset: 20,
    };
    await expectGradients(spec, feeds());
  });
});

describe('attention-style MatMuls of transposed operands', () => {
  // Scores: Q = q^T(0,2,1,3) times K^T = k^T(0,2,3,1), scaled.
  const scores: GraphSpec = {
    nodes: [
      node('Transpose', ['q'], ['qt'], { perm: [0, 2, 1, 3] }),
      node('Transpose', ['k'], ['kt'], { perm: [0, 2, 3, 1] }),
      node('MatMul', ['qt', 'kt'], ['s']),
      node('Mul', ['s', 'c'], ['y']),
    ],
    inputs: { q: ['B', 3, 2, 4], k: ['B', 3, 2, 4] },
    outputs: ['y'],
    initializers: { c: float32([], [0.5]) },
  };
  // Context: P times V = v^T(0,2,1,3), transposed back to tokens-first.
  const context: GraphSpec = {
    nodes: [
      node('Transpose', ['v'], ['vt'], { perm: [0, 2, 1, 3] }),
      node('MatMul', ['p', 'vt'], ['c']),
      node('Transpose', ['c'], ['y'], { perm: [0, 2, 1, 3] }),
    ],
    inputs: { p: ['B', 2, 3, 3], v: ['B', 3, 2, 4] },
    outputs: ['y'],
  };

  /**
   * Every Transpose the runtime would run, as one permutation of a tensor
   * that is not itself a Transpose output (the runtime merges chains).
   */
  function copies(model: ModelProto): number[][] {
    const nodes = graphOf(model).node!;
    const producer = new Map(nodes.flatMap((n) => n.output!.map((o) => [o, n] as const)));
    const permOf = (n: onnx.INodeProto) => n.attribute!.find((a) => a.name === 'perm')!.ints!.map(Number);
    const effective = (n: onnx.INodeProto): number[] => {
      const inner = producer.get(n.input![0]);
      const outer = permOf(n);
      return inner?.opType === 'Transpose' ? outer.map((k) => effective(inner)[k]) : outer;
    };
    return nodes.filter((n) => n.opType === 'Transpose' && (n.name ?? '').startsWith('grad')).map(effective);
  }

  it('scores: matches finite differences', async () => {
    await expectGradients(scores, { q: x(2, 3, 2, 4), k: x(2, 3, 2, 4) });
  });

  it('context: matches finite differences', async () => {
    await expectGradients(context, { p: x(2, 2, 3, 3), v: x(2, 3, 2, 4) });
  });

  it('copies only along the fast paths (the innermost axis moves, or moves in)', () => {
    for (const [spec, wrt] of [
      [scores, ['q', 'k']],
      [context, ['p', 'v']],
    ] as const) {
      for (const perm of copies(backwardOf(spec, [...wrt]))) {
        // Swapping two outer axes under a fixed innermost one copies short rows one by one.
        expect(perm, JSON.stringify(perm)).not.toEqual([0, 2, 1, 3]);
      }
    }
  });
});

describe('accumulation, view gradients and pruning', () => {
  it('sums three or more contributions with one Sum', async () => {
    const spec: GraphSpec = {
      nodes: [
        node('Mul', ['a', 'a'], ['sq']),
        node('Neg', ['a'], ['n']),
        node('Exp', ['a'], ['e']),
        node('Add', ['sq', 'n'], ['t']),
        node('Add', ['t', 'e'], ['y']),
      ],
      inputs: { a: [2, 3] },
      outputs: ['y'],
    };
    await expectGradients(spec, { a: x(2, 3) });
    const accumulate = emitted(backwardOf(spec, ['a'])).filter((n) =>
      (n.name ?? '').startsWith('grad/accumulate/a/'),
    );
    expect(accumulate.map((n) => n.opType)).toEqual(['Sum']);
    expect(accumulate[0].input).toHaveLength(4);
  });

  it('view gradients under a symbolic batch reshape to constants, not Shape(x)', async () => {
    const spec: GraphSpec = {
      nodes: [
        node('Mul', ['a', 'a'], ['sq']),
        node('Reshape', ['sq', 'flat'], ['r']),
        node('Unsqueeze', ['r', 'axis'], ['un']),
        node('ReduceSum', ['un', 'last'], ['y'], { keepdims: 0 }),
      ],
      inputs: { a: ['B', 3, 4] },
      outputs: ['y'],
      initializers: { flat: int64([2], [0, 12]), axis: int64([1], [1]), last: int64([1], [-1]) },
    };
    await expectGradients(spec, { a: x(2, 3, 4) });
    const ops = emitted(backwardOf(spec, ['a'])).map((n) => n.opType);
    expect(ops).not.toContain('Shape');
  });

  it('a Gather of a constant run of indices pads its gradient back into place', async () => {
    for (const [indices, dims] of [
      [int64([], [0]), []],
      [int64([2], [-3, -2]), [2]],
    ] as const) {
      const spec: GraphSpec = {
        nodes: [node('Mul', ['a', 'a'], ['sq']), node('Gather', ['sq', 'i'], ['y'], { axis: 1 })],
        inputs: { a: ['B', 5, 3] },
        outputs: ['y'],
        initializers: { i: { ...indices, dims: [...dims] } },
      };
      await expectGradients(spec, { a: x(2, 5, 3) });
      const ops = emitted(backwardOf(spec, ['a'])).map((n) => n.opType);
      expect(ops).toContain('Pad');
      expect(ops).not.toContain('ScatterElements');
    }
  });

  it('a Div by a constant scalar multiplies by its reciprocal', async () => {
    const spec: GraphSpec = {
      nodes: [scalar('c', 1.7), node('Div', ['a', 'c'], ['y'])],
      inputs: { a: [2, 3] },
      outputs: ['y'],
    };
    await expectGradients(spec, { a: x(2, 3) });
    const ops = emitted(backwardOf(spec, ['a'])).map((n) => n.opType);
    expect(ops).not.toContain('Div');
  });

  it('every node of the reference ViT training graph feeds an output', () => {
    const model = buildVit(REFERENCE_VIT);
    const g = graphOf(differentiate(model, { wrt: trainableParameters(model), loss: 'cross-entropy' }));
    const read = new Set([...g.node!.flatMap((n) => n.input!), ...g.output!.map((o) => o.name!)]);
    for (const n of g.node!)
      expect(
        n.output!.some((o) => read.has(o)),
        n.name!,
      ).toBe(true);
    // LayerNorm statistics come from the forward nodes; GELU needs no Erf of its own.
    const lns = g.node!.filter((n) => n.opType === 'LayerNormalization');
    expect(lns).toHaveLength(REFERENCE_VIT.depth * 2 + 1);
    for (const n of lns) expect(n.output!.filter((o) => read.has(o))).toHaveLength(3);
    expect(g.node!.filter((n) => n.opType === 'Erf')).toHaveLength(REFERENCE_VIT.depth);
  });

  it('a Div by a tensor still divides', async () => {
    const spec: GraphSpec = {
      nodes: [node('Div', ['a', 'b'], ['y'])],
      inputs: { a: [2, 3], b: [2, 3] },
      outputs: ['y'],
    };
    await expectGradients(spec, { a: x(2, 3), b: positive(rand, [2, 3]) });
  });
});
