// Shared helpers for the autodiff tests: tiny graph construction, running on
// onnxruntime-node, and finite-difference gradient checks.
import * as ort from 'onnxruntime-node';
import { type DifferentiateOptions, differentiate } from '../../../models/autodiff/index.js';
import {
  attr,
  DataType,
  encodeModel,
  fromTensorProto,
  type HostTensor,
  type ModelProto,
  onnx,
  toTensorProto,
  valueInfo,
} from '../../../models/onnx/index.js';

type AttrValue = Parameters<typeof attr>[1];
export type Dim = number | string | null;

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
): onnx.NodeProto {
  return onnx.NodeProto.create({
    opType,
    name: `${opType}_${outputs[0]}`,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  });
}

export interface GraphSpec {
  nodes: onnx.NodeProto[];
  /** Graph inputs: dims, or null for an input declared without a shape; float32 unless elemType is given. */
  inputs: Record<string, Dim[] | null | { elemType: number; dims: Dim[] }>;
  outputs: string[];
  initializers?: Record<string, HostTensor>;
  opset?: number;
}

export function makeModel(spec: GraphSpec): ModelProto {
  const inputs = Object.entries(spec.inputs).map(([name, d]) => {
    if (d === null) {
      return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
    }
    if (Array.isArray(d)) return valueInfo(name, DataType.FLOAT, d);
    return valueInfo(name, d.elemType, d.dims);
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: 'test',
      node: spec.nodes,
      input: inputs,
      output: spec.outputs.map((name) => onnx.ValueInfoProto.create({ name })),
      initializer: Object.entries(spec.initializers ?? {}).map(([n, t]) => toTensorProto(n, t)),
    },
  });
}

/** Deterministic uniform values in [lo, hi). */
export function uniform(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomTensor(rand: () => number, dims: number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => rand()) };
}

/** Values with |v| in [0.3, 1.2): clear of kinks and of zero. */
export function awayFromZero(rand: (lo?: number, hi?: number) => number, dims: number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return {
    dtype: 'float32',
    dims,
    data: Float32Array.from({ length: n }, () => (rand() < 0 ? -1 : 1) * rand(0.3, 1.2)),
  };
}

export function positive(rand: (lo?: number, hi?: number) => number, dims: number[]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => rand(0.5, 1.5)) };
}

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype === 'float32' ? 'float32' : t.dtype, t.data as Float32Array, t.dims);
}

const sessions = new WeakMap<object, Promise<ort.InferenceSession>>();

export async function run(
  model: ModelProto,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, ort.Tensor>> {
  let session = sessions.get(model);
  if (!session) {
    session = ort.InferenceSession.create(encodeModel(model));
    sessions.set(model, session);
  }
  const s = await session;
  return s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
}

/** A copy of the model with the named initializers turned into graph inputs (for perturbing them). */
function liftInitializers(model: ModelProto, names: string[]): ModelProto {
  const copy = onnx.ModelProto.decode(encodeModel(model));
  const g = copy.graph!;
  const lifted = (g.initializer ?? []).filter((t) => names.includes(t.name ?? ''));
  for (const t of lifted)
    g.input!.push(valueInfo(t.name ?? '', t.dataType ?? DataType.FLOAT, (t.dims ?? []).map(Number)));
  g.initializer = (g.initializer ?? []).filter((t) => !lifted.includes(t));
  return copy;
}

export interface GradCheck {
  /** Relative L2 error of each analytic gradient against central differences. */
  errors: Record<string, number>;
  analytic: Record<string, Float32Array>;
}

/**
 * Compares analytic gradients of S = sum(output * W), W random, against
 * central differences of S computed in float64 from float32 forward runs.
 * The backward graph is generated in seed mode with W as the seed, so the same
 * check covers every rule without a loss in the way.
 */
export async function checkGradients(opts: {
  model: ModelProto;
  feeds: Record<string, HostTensor>;
  wrt: string[];
  output?: string;
  eps?: number;
  seed?: number;
}): Promise<GradCheck> {
  const eps = opts.eps ?? 1e-2;
  const output = opts.output ?? opts.model.graph!.output![0].name!;
  const initNames = new Set(opts.model.graph!.initializer!.map((t) => t.name));
  const forward = liftInitializers(
    opts.model,
    opts.wrt.filter((w) => initNames.has(w)),
  );
  const initValues = Object.fromEntries(
    opts.model
      .graph!.initializer!.filter((t) => opts.wrt.includes(t.name!))
      .map((t) => [t.name!, fromTensorProto(t)]),
  );
  const feeds = { ...opts.feeds, ...initValues };
  const base = (await run(forward, feeds))[output];
  const rand = uniform(opts.seed ?? 7);
  const weights = randomTensor(rand, [...base.dims]);
  const options: DifferentiateOptions = { wrt: opts.wrt, seed: { output, gradInput: 'seed_grad' } };
  const backward = differentiate(opts.model, options);
  const result = await run(backward, { ...feeds, seed_grad: weights });

  const objective = async (f: Record<string, HostTensor>) => {
    const y = (await run(forward, f))[output].data as Float32Array;
    let s = 0;
    const w = weights.data as Float32Array;
    for (let i = 0; i < y.length; i++) s += y[i] * w[i];
    return s;
  };
  const errors: Record<string, number> = {};
  const analytic: Record<string, Float32Array> = {};
  for (const name of opts.wrt) {
    const got = result[`grad.${name}`].data as Float32Array;
    analytic[name] = got;
    const x = feeds[name] as HostTensor & { dtype: 'float32' };
    if (got.length !== x.data.length)
      throw new Error(`grad.${name}: ${got.length} elements, want ${x.data.length}`);
    let num = 0;
    let den = 0;
    for (let j = 0; j < x.data.length; j++) {
      const plus = Float32Array.from(x.data);
      const minus = Float32Array.from(x.data);
      plus[j] += eps;
      minus[j] -= eps;
      const sp = await objective({ ...feeds, [name]: { ...x, data: plus } });
      const sm = await objective({ ...feeds, [name]: { ...x, data: minus } });
      // Divide by the step actually taken in float32.
      const fd = (sp - sm) / (plus[j] - minus[j]);
      num += (got[j] - fd) ** 2;
      den += fd ** 2;
    }
    errors[name] = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-6);
  }
  return { errors, analytic };
}

export { relativeL2 } from '../../support/numeric.js';
