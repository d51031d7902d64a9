// Finite-difference checks, one small graph per rule and shape case.
//
// Objective S = sum(y * W) with fixed random W (so every output element
// matters with a different weight); central differences with step 1e-2 on
// float32 forward runs, accumulated in float64. Each analytic gradient must
// match within a relative L2 error of 1e-3. Observed errors are at most ~7e-5
// (curved ops: Pow, Log, Erf, LayerNorm), all of it finite-difference
// truncation and float32 rounding; linear and structural ops match to ~1e-7.
import { describe, expect, it } from 'vitest';
import { DataType, float32, type HostTensor, int64, toTensorProto } from '../../../models/onnx/index.js';
import {
  awayFromZero,
  checkGradients,
  type Dim,
  type GraphSpec,
  makeModel,
  node,
  positive,
  randomTensor,
  uniform,
} from './helpers.js';

const TOLERANCE = 1e-3;

interface Case {
  name: string;
  spec: GraphSpec;
  feeds: Record<string, HostTensor>;
  /** Default: every float graph input that has a feed, plus float initializers listed here. */
  wrt?: string[];
  opset?: number;
}

const rand = uniform(1);
const x = (...dims: number[]) => randomTensor(rand, dims);
const pos = (...dims: number[]) => positive(rand, dims);
const away = (...dims: number[]) => awayFromZero(rand, dims);
const boolTensor = (dims: number[], values: number[]): HostTensor => ({
  dtype: 'bool',
  dims,
  data: Uint8Array.from(values),
});

type Gen = (...dims: number[]) => HostTensor;

function binary(
  op: string,
  a: number[],
  b: number[],
  gens: [Gen, Gen] = [x, x],
  decl?: [Dim[] | null, Dim[] | null],
): Case {
  return {
    name: `${op} [${a}] , [${b}]${decl ? ' (symbolic shapes)' : ''}`,
    spec: {
      nodes: [node(op, ['a', 'b'], ['y'])],
      inputs: { a: decl?.[0] ?? a, b: decl?.[1] ?? b },
      outputs: ['y'],
    },
    feeds: { a: gens[0](...a), b: gens[1](...b) },
  };
}

function unary(op: string, dims: number[], gen: Gen = x, attrs = {}): Case {
  return {
    name: `${op} [${dims}]`,
    spec: { nodes: [node(op, ['a'], ['y'], attrs)], inputs: { a: dims }, outputs: ['y'] },
    feeds: { a: gen(...dims) },
  };
}

function withInits(
  name: string,
  nodes: GraphSpec['nodes'],
  inputs: Record<string, number[] | Dim[]>,
  feeds: Record<string, HostTensor>,
  initializers: Record<string, HostTensor> = {},
  opset?: number,
): Case {
  return { name, spec: { nodes, inputs, outputs: ['y'], initializers, opset }, feeds };
}

const pow = (exponent: number): Case =>
  withInits(
    `Pow [2,3] ^ constant ${exponent}`,
    [
      node('Constant', [], ['p'], { value: toTensorProto('', float32([], [exponent])) }),
      node('Pow', ['a', 'p'], ['y']),
    ],
    { a: [2, 3] },
    { a: pos(2, 3) },
  );

const elementwise: Case[] = [
  binary('Add', [2, 3, 4], [4]),
  binary('Add', [2, 3, 4], [3, 1]),
  binary('Add', [2, 1, 4], [1, 3, 1]),
  binary('Add', [3], [2, 3]),
  binary(
    'Add',
    [2, 3, 4],
    [2, 1, 4],
    [x, x],
    [
      ['B', 3, 4],
      ['B', 1, 4],
    ],
  ),
  binary('Add', [2, 3, 4], [3, 1], [x, x], [null, [3, 1]]),
  binary('Sub', [2, 3, 4], [3, 1]),
  binary('Sub', [4], [2, 3, 4]),
  binary('Mul', [2, 3, 4], [1, 3, 1]),
  binary('Mul', [2, 1], [3]),
  binary(
    'Mul',
    [2, 3],
    [2, 3],
    [x, x],
    [
      ['B', 'T'],
      [null, null],
    ],
  ),
  binary('Div', [2, 3, 4], [3, 1], [x, pos]),
  binary('Div', [1, 3], [2, 3], [x, pos]),
  binary('Div', [2, 3, 4], [4], [x, pos]),
  binary('Pow', [2, 3], [3], [pos, x]),
  binary('Pow', [2, 3], [2, 3], [pos, x]),
  pow(2),
  pow(3),
  pow(0.5),
  {
    name: 'Mul with the same tensor twice (x * x)',
    spec: { nodes: [node('Mul', ['a', 'a'], ['y'])], inputs: { a: [2, 3] }, outputs: ['y'] },
    feeds: { a: x(2, 3) },
  },
  unary('Sqrt', [2, 3], pos),
  unary('Erf', [2, 3]),
  unary('Exp', [2, 3]),
  unary('Log', [2, 3], pos),
  unary('Neg', [2, 3]),
  unary('Tanh', [2, 3]),
  unary('Sigmoid', [2, 3]),
  unary('Relu', [3, 4], away),
  unary('Identity', [2, 3]),
  unary('Dropout', [2, 3]),
  unary('Cast', [2, 3], x, { to: DataType.FLOAT }),
];

const matmul = (a: number[], b: number[], decl?: [Dim[], Dim[]]): Case =>
  binary('MatMul', a, b, [x, x], decl);

const linear: Case[] = [
  matmul([2, 3, 4], [4, 5]),
  matmul([2, 1, 3, 4], [3, 4, 2]),
  matmul([3, 4], [2, 4, 5]),
  matmul([2, 3, 4], [2, 4, 5]),
  matmul([4], [4, 3]),
  matmul([2, 3, 4], [4]),
  matmul([4], [4]),
  matmul(
    [2, 3, 4],
    [4, 5],
    [
      ['B', 'T', 4],
      [4, 'N'],
    ],
  ),
  ...[
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ].map(
    ([ta, tb]): Case => ({
      name: `Gemm transA=${ta} transB=${tb} alpha=0.7 beta=1.3 C[5]`,
      spec: {
        nodes: [
          node('Gemm', ['a', 'b', 'c'], ['y'], {
            transA: ta,
            transB: tb,
            alpha: { float: 0.7 },
            beta: { float: 1.3 },
          }),
        ],
        inputs: { a: ta ? [4, 3] : [3, 4], b: tb ? [5, 4] : [4, 5], c: [5] },
        outputs: ['y'],
      },
      feeds: { a: ta ? x(4, 3) : x(3, 4), b: tb ? x(5, 4) : x(4, 5), c: x(5) },
    }),
  ),
  {
    name: 'Gemm C[3,1]',
    spec: {
      nodes: [node('Gemm', ['a', 'b', 'c'], ['y'], { transB: 1 })],
      inputs: { a: [3, 4], b: [5, 4], c: [3, 1] },
      outputs: ['y'],
    },
    feeds: { a: x(3, 4), b: x(5, 4), c: x(3, 1) },
  },
  {
    name: 'Gemm without C',
    spec: { nodes: [node('Gemm', ['a', 'b'], ['y'])], inputs: { a: [3, 4], b: [4, 2] }, outputs: ['y'] },
    feeds: { a: x(3, 4), b: x(4, 2) },
  },
];

function conv(
  name: string,
  xDims: number[],
  wDims: number[],
  attrs: Record<string, number[] | number | string>,
  opts: { bias?: boolean; decl?: Dim[] } = {},
): Case {
  const bias = opts.bias ?? true;
  const inputs: Record<string, Dim[]> = { x: opts.decl ?? xDims, w: wDims };
  const feeds: Record<string, HostTensor> = { x: x(...xDims), w: x(...wDims) };
  if (bias) {
    inputs.b = [wDims[0]];
    feeds.b = x(wDims[0]);
  }
  return {
    name: `Conv ${name}`,
    spec: {
      nodes: [node('Conv', bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
      inputs,
      outputs: ['y'],
    },
    feeds,
  };
}

const convolutions: Case[] = [
  conv('patchify (stride = kernel)', [2, 3, 8, 8], [4, 3, 4, 4], { strides: [4, 4] }),
  conv('stride 2 pad 1 on 7x7 (uneven cover)', [1, 2, 7, 7], [3, 2, 3, 3], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  }),
  conv(
    'dilation 2, strides [2,1], asymmetric pads',
    [1, 2, 7, 6],
    [2, 2, 2, 3],
    { strides: [2, 1], dilations: [2, 2], pads: [0, 1, 1, 0] },
    { bias: false },
  ),
  conv(
    'symbolic batch and spatial dims',
    [2, 2, 7, 6],
    [3, 2, 3, 3],
    { strides: [2, 2], pads: [1, 0, 1, 1] },
    {
      decl: ['N', 2, 'H', 'W'],
    },
  ),
  conv('1-D, stride 2', [2, 2, 9], [3, 2, 3], { strides: [2] }),
  conv('auto_pad SAME_UPPER', [1, 2, 5, 5], [2, 2, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }),
];

const ints = (...v: number[]) => int64([v.length], v);

const normalization: Case[] = [
  unary('Softmax', [2, 3, 4]),
  unary('Softmax', [2, 3, 4], x, { axis: 1 }),
  unary('LogSoftmax', [2, 3, 4]),
  unary('ReduceMean', [2, 3, 4], x, { axes: [-1] }),
  unary('ReduceMean', [2, 3, 4], x, { axes: [0, 2], keepdims: 0 }),
  unary('ReduceMean', [2, 3], x, { keepdims: 0 }),
  withInits(
    'ReduceMean over a symbolic axis (run-time count)',
    [node('ReduceMean', ['a'], ['y'], { axes: [1], keepdims: 0 })],
    { a: ['B', 'T', 4] },
    { a: x(2, 3, 4) },
  ),
  withInits(
    'ReduceMean at opset 18 (axes as input)',
    [node('ReduceMean', ['a', 'axes'], ['y'], { keepdims: 0 })],
    { a: [2, 3, 4] },
    { a: x(2, 3, 4) },
    { axes: ints(1) },
    18,
  ),
  withInits(
    'ReduceSum axes input, keepdims',
    [node('ReduceSum', ['a', 'axes'], ['y'])],
    { a: [2, 3, 4] },
    { a: x(2, 3, 4) },
    { axes: ints(0, -1) },
  ),
  {
    name: 'LayerNormalization axis -1',
    spec: {
      nodes: [node('LayerNormalization', ['a', 's', 'b'], ['y'], { epsilon: { float: 1e-5 } })],
      inputs: { a: [2, 3, 4], s: [4], b: [4] },
      outputs: ['y'],
    },
    feeds: { a: x(2, 3, 4), s: x(4), b: x(4) },
  },
  {
    name: 'LayerNormalization at opset 18 (ReduceMean axes as input in the backward)',
    spec: {
      nodes: [node('LayerNormalization', ['a', 's', 'b'], ['y'])],
      inputs: { a: [2, 3, 4], s: [4], b: [4] },
      outputs: ['y'],
      opset: 18,
    },
    feeds: { a: x(2, 3, 4), s: x(4), b: x(4) },
  },
  {
    name: 'LayerNormalization axis 1 (two normalized axes), no bias',
    spec: {
      nodes: [node('LayerNormalization', ['a', 's'], ['y'], { axis: 1 })],
      inputs: { a: [2, 3, 4], s: [3, 4] },
      outputs: ['y'],
    },
    feeds: { a: x(2, 3, 4), s: x(3, 4) },
  },
];

const shapeArithmeticSlice = (decl: Dim[]): Case =>
  withInits(
    `Slice with ends computed from Shape (${decl.some((d) => typeof d === 'string') ? 'run time' : 'folded'})`,
    [
      node('Shape', ['a'], ['s']),
      node('Gather', ['s', 'two'], ['d'], { axis: 0 }),
      node('Div', ['d', 'three'], ['third']),
      node('Mul', ['third', 'twoScalar'], ['twice']),
      node('Slice', ['a', 'third', 'twice', 'axis'], ['y']),
    ],
    { a: decl },
    { a: x(2, 3, 6) },
    { two: ints(2), three: ints(3), twoScalar: ints(2), axis: ints(-1) },
  );

const structural: Case[] = [
  withInits(
    'Transpose perm [2,0,1]',
    [node('Transpose', ['a'], ['y'], { perm: [2, 0, 1] })],
    { a: [2, 3, 4] },
    { a: x(2, 3, 4) },
  ),
  unary('Transpose', [2, 3, 4]),
  withInits(
    'Reshape [6,4]',
    [node('Reshape', ['a', 'shape'], ['y'])],
    { a: [2, 3, 4] },
    { a: x(2, 3, 4) },
    { shape: ints(6, 4) },
  ),
  withInits(
    'Reshape [0,-1]',
    [node('Reshape', ['a', 'shape'], ['y'])],
    { a: ['B', 3, 4] },
    { a: x(2, 3, 4) },
    { shape: ints(0, -1) },
  ),
  unary('Flatten', [2, 3, 4], x, { axis: 2 }),
  withInits(
    'Squeeze axis 1',
    [node('Squeeze', ['a', 'axes'], ['y'])],
    { a: [2, 1, 3] },
    { a: x(2, 1, 3) },
    { axes: ints(1) },
  ),
  withInits(
    'Unsqueeze axes [0,-1]',
    [node('Unsqueeze', ['a', 'axes'], ['y'])],
    { a: [2, 3] },
    { a: x(2, 3) },
    { axes: ints(0, -1) },
  ),
  {
    name: 'Concat axis 1, three pieces',
    spec: {
      nodes: [node('Concat', ['a', 'b', 'c'], ['y'], { axis: 1 })],
      inputs: { a: [2, 1, 3], b: [2, 2, 3], c: [2, 3, 3] },
      outputs: ['y'],
    },
    feeds: { a: x(2, 1, 3), b: x(2, 2, 3), c: x(2, 3, 3) },
  },
  {
    name: 'Concat axis -1 with symbolic sizes',
    spec: {
      nodes: [node('Concat', ['a', 'b'], ['y'], { axis: -1 })],
      inputs: { a: ['B', 'P'], b: ['B', 2] },
      outputs: ['y'],
    },
    feeds: { a: x(2, 3), b: x(2, 2) },
  },
  withInits(
    'Slice constant starts/ends, two axes',
    [node('Slice', ['a', 'st', 'en', 'ax'], ['y'])],
    { a: [3, 4, 5] },
    { a: x(3, 4, 5) },
    { st: ints(1, -4), en: ints(3, 100), ax: ints(0, 2) },
  ),
  withInits(
    'Slice steps 2 and -1',
    [node('Slice', ['a', 'st', 'en', 'ax', 'steps'], ['y'])],
    { a: [5, 4, 3] },
    { a: x(5, 4, 3) },
    { st: ints(0, -1), en: ints(5, -100), ax: ints(0, 1), steps: ints(2, -1) },
  ),
  withInits(
    'Slice step 2 with symbolic dims (run-time indices)',
    [node('Slice', ['a', 'st', 'en', 'ax', 'steps'], ['y'])],
    { a: ['B', 'L'] },
    { a: x(2, 7) },
    { st: ints(1), en: ints(-1), ax: ints(1), steps: ints(2) },
  ),
  shapeArithmeticSlice(['B', 3, 'W']),
  shapeArithmeticSlice([2, 3, 6]),
  withInits(
    'Gather scalar index on axis 1 (class token)',
    [node('Gather', ['a', 'i'], ['y'], { axis: 1 })],
    { a: ['B', 5, 3] },
    { a: x(2, 5, 3) },
    { i: int64([], [0]) },
  ),
  withInits(
    'Gather 2-D indices with repeats and a negative index',
    [node('Gather', ['a', 'i'], ['y'], { axis: 1 })],
    { a: [2, 5, 3] },
    { a: x(2, 5, 3) },
    { i: int64([2, 2], [0, 4, 4, -1]) },
  ),
  withInits(
    'Gather axis 0 (embedding lookup)',
    [node('Gather', ['a', 'i'], ['y'])],
    { a: [4, 3] },
    { a: x(4, 3) },
    { i: ints(1, 1, 0) },
  ),
  withInits(
    'Expand [1,3] to [2,3]',
    [node('Expand', ['a', 'shape'], ['y'])],
    { a: [1, 3] },
    { a: x(1, 3) },
    { shape: ints(2, 3) },
  ),
  withInits(
    'Expand [3,1] to [2,3,4]',
    [node('Expand', ['a', 'shape'], ['y'])],
    { a: [3, 1] },
    { a: x(3, 1) },
    { shape: ints(2, 3, 4) },
  ),
  withInits(
    'Where with broadcast branches',
    [node('Where', ['cond', 'a', 'b'], ['y'])],
    { a: [2, 3], b: [3] },
    { a: x(2, 3), b: x(3) },
    { cond: boolTensor([2, 1], [1, 0]) },
  ),
];

async function check(c: Case): Promise<void> {
  const model = makeModel({ ...c.spec, opset: c.spec.opset ?? c.opset });
  const wrt = c.wrt ?? Object.keys(c.feeds);
  const { errors } = await checkGradients({ model, feeds: c.feeds, wrt });
  for (const [name, err] of Object.entries(errors)) {
    expect(err, `${c.name}: grad.${name}`).toBeLessThan(TOLERANCE);
  }
}

describe('gradient rules match finite differences', () => {
  describe('elementwise (with broadcasting)', () => {
    for (const c of elementwise) it(c.name, () => check(c));
  });
  describe('MatMul and Gemm', () => {
    for (const c of linear) it(c.name, () => check(c));
  });
  describe('Conv', () => {
    for (const c of convolutions) it(c.name, () => check(c));
  });
  describe('normalization and reductions', () => {
    for (const c of normalization) it(c.name, () => check(c));
  });
  describe('structural', () => {
    for (const c of structural) it(c.name, () => check(c));
  });
});
