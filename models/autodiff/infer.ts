// Best-effort static type and shape inference over a forward graph.
//
// There is no ONNX shape inference in JavaScript, and the exporters we receive
// carry no value_info. The differentiator needs element types (activity analysis
// follows float edges only), ranks (MatMul/Transpose/Slice/Gather rules build
// permutations and pad vectors) and, where available, dims (to skip or
// statically resolve broadcast reductions). Exporters compute shapes with
// integer arithmetic on Shape outputs, so small integer tensors are partially
// evaluated too, with symbolic dims ("batch", "2*batch") carried as strings.
// Anything unknown stays unknown: every consumer has a runtime fallback or a
// clear error, so this pass only ever buys simpler graphs, never correctness.
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  DataType,
  type GraphProto,
  type HostTensor,
  hasAttr,
  type NodeProto,
  shapeOf,
  type ValueInfoProto,
} from '../onnx/index.js';

/** A static dim: a number, a symbol (equal strings are equal sizes), or null when unknown. */
export type Dim = number | string | null;

export interface TensorInfo {
  elemType?: number;
  dims?: Dim[];
  /** Row-major element values of small integer tensors (shape arithmetic); null where unknown. */
  value?: Dim[];
}

export type InfoMap = Map<string, TensorInfo>;

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const INT_TYPES = new Set<number>([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
]);
/** Larger integer tensors are data, not shape arithmetic: not worth tracking element-wise. */
const MAX_VALUE_ELEMENTS = 64;

export function isFloatType(t: number | undefined): boolean {
  return t !== undefined && FLOAT_TYPES.has(t);
}

export function staticDims(dims: Dim[] | undefined): number[] | undefined {
  if (!dims || dims.some((d) => typeof d !== 'number')) return undefined;
  return dims as number[];
}

export function numel(dims: Dim[] | undefined): number | undefined {
  const s = staticDims(dims);
  return s ? s.reduce((a, b) => a * b, 1) : undefined;
}

/** Integer element values when every one is statically known. */
export function knownInts(info: TensorInfo | undefined): number[] | undefined {
  if (!info?.value || info.value.some((v) => typeof v !== 'number')) return undefined;
  return info.value as number[];
}

// Symbolic products: "batch", "2*batch", "17*batch*heads". Only multiplication
// and exact division are modelled; that covers what exporters emit for
// reshapes (merge batch and heads, split them again).
interface Product {
  coef: number;
  syms: string[];
}

function toProduct(d: Dim): Product | null {
  if (d === null) return null;
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    const n = Number(part);
    if (part !== '' && Number.isInteger(n)) coef *= n;
    else syms.push(part);
  }
  return { coef, syms: syms.sort() };
}

function fromProduct(p: Product): Dim {
  if (p.syms.length === 0) return p.coef;
  if (p.coef === 0) return 0;
  const s = p.syms.join('*');
  return p.coef === 1 ? s : `${p.coef}*${s}`;
}

export function mulDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 0 || b === 0) return 0;
  const pa = toProduct(a);
  const pb = toProduct(b);
  if (!pa || !pb) return null;
  return fromProduct({ coef: pa.coef * pb.coef, syms: [...pa.syms, ...pb.syms].sort() });
}

function divDim(a: Dim, b: Dim): Dim {
  const pa = toProduct(a);
  const pb = toProduct(b);
  if (!pa || !pb || pb.coef === 0 || pa.coef % pb.coef !== 0) return null;
  const rest = [...pa.syms];
  for (const s of pb.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return fromProduct({ coef: pa.coef / pb.coef, syms: rest });
}

function productOf(dims: Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => mulDim(acc, d), 1);
}

/** Numpy-style broadcast of two static shapes; unknown where it cannot be decided. */
export function broadcastDims(a: Dim[], b: Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
    const y = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
    if (x === y) out.push(x);
    else if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (typeof x === 'number') out.push(x);
    else if (typeof y === 'number') out.push(y);
    else out.push(null);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function fromHost(h: HostTensor): TensorInfo {
  const elemType = {
    float32: DataType.FLOAT,
    int64: DataType.INT64,
    int32: DataType.INT32,
    bool: DataType.BOOL,
  }[h.dtype];
  const info: TensorInfo = { elemType, dims: [...h.dims] };
  if (h.dtype !== 'float32' && h.data.length <= MAX_VALUE_ELEMENTS) {
    info.value = Array.from(h.data as ArrayLike<number | bigint>, (v) => Number(v));
  }
  return info;
}

export function infoFromValueInfo(v: ValueInfoProto): TensorInfo {
  const t = v.type?.tensorType;
  if (!t) return {};
  return {
    elemType: t.elemType ?? undefined,
    dims: t.shape ? shapeOf(v) : undefined,
  };
}

/** Decodes a Constant node's value, whichever attribute form it uses. */
export function constantValue(node: NodeProto): HostTensor | undefined {
  const t = attrTensor(node, 'value');
  if (t) return t;
  if (hasAttr(node, 'value_float')) {
    return { dtype: 'float32', dims: [], data: Float32Array.of(attrFloat(node, 'value_float')) };
  }
  if (hasAttr(node, 'value_floats')) {
    const a = (node.attribute ?? []).find((x) => x.name === 'value_floats');
    const f = a?.floats ?? [];
    return { dtype: 'float32', dims: [f.length], data: Float32Array.from(f) };
  }
  if (hasAttr(node, 'value_int')) {
    return { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(attrInt(node, 'value_int'))) };
  }
  if (hasAttr(node, 'value_ints')) {
    const v = attrInts(node, 'value_ints');
    return { dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) };
  }
  return undefined;
}

type Elementwise = (xs: Dim[]) => Dim;

/** Applies f element-wise with broadcasting, when every operand's value is tracked. */
function elementwise(ins: TensorInfo[], outDims: Dim[] | undefined, f: Elementwise): Dim[] | undefined {
  const od = staticDims(outDims);
  if (!od || od.reduce((a, b) => a * b, 1) > MAX_VALUE_ELEMENTS) return undefined;
  const shapes: number[][] = [];
  for (const t of ins) {
    const d = staticDims(t.dims);
    if (!d || !t.value) return undefined;
    shapes.push(d);
  }
  const total = od.reduce((a, b) => a * b, 1);
  const out: Dim[] = [];
  for (let flat = 0; flat < total; flat++) {
    const idx: number[] = [];
    let rem = flat;
    for (let i = od.length - 1; i >= 0; i--) {
      idx[i] = rem % od[i];
      rem = Math.floor(rem / od[i]);
    }
    const xs = ins.map((t, k) => {
      const d = shapes[k];
      let off = 0;
      for (let i = 0; i < d.length; i++) {
        const j = idx[i + od.length - d.length];
        off = off * d[i] + (d[i] === 1 ? 0 : j);
      }
      return t.value![off];
    });
    out.push(f(xs));
  }
  return out;
}

function num(f: (a: number, b: number) => number): Elementwise {
  return ([a, b]) => (typeof a === 'number' && typeof b === 'number' ? f(a, b) : null);
}

const VALUE_OPS: Record<string, Elementwise> = {
  Add: ([a, b]) => (a === 0 ? b : b === 0 ? a : num((x, y) => x + y)([a, b])),
  Sub: ([a, b]) => (b === 0 ? a : num((x, y) => x - y)([a, b])),
  Mul: ([a, b]) => mulDim(a, b),
  // Integer Div truncates toward zero; exact symbolic division is also safe.
  Div: ([a, b]) =>
    typeof a === 'number' && typeof b === 'number' && b !== 0
      ? Math.trunc(a / b)
      : b === 1
        ? a
        : divDim(a, b),
  Equal: ([a, b]) => (a !== null && a === b ? 1 : typeof a === 'number' && typeof b === 'number' ? 0 : null),
  Less: num((a, b) => Number(a < b)),
  Greater: num((a, b) => Number(a > b)),
  Max: num(Math.max),
  Min: num(Math.min),
  Where: ([c, a, b]) => (c === 1 ? a : c === 0 ? b : null),
};

/** Infers types, dims and small integer values for every tensor of a forward graph. */
export function inferGraph(graph: GraphProto, opset: number, seed: InfoMap): InfoMap {
  const infos: InfoMap = new Map(seed);
  const info = (name: string | undefined): TensorInfo => (name ? (infos.get(name) ?? {}) : {});
  for (const node of graph.node ?? []) {
    let outs: TensorInfo[];
    try {
      outs = inferNode(node, opset, (i) => info(node.input?.[i]));
    } catch {
      // A malformed attribute only costs static knowledge here; the op's own
      // rule (or the runtime) reports it properly.
      outs = [];
    }
    (node.output ?? []).forEach((o, i) => {
      if (!o) return;
      const prior = infos.get(o);
      const inferred = outs[i] ?? {};
      // Declared value_info wins for what it states; inference fills the rest.
      infos.set(o, {
        elemType: prior?.elemType ?? inferred.elemType,
        dims: prior?.dims ?? inferred.dims,
        value: inferred.value,
      });
    });
  }
  return infos;
}

function reduceDims(
  dims: Dim[] | undefined,
  axes: number[] | undefined,
  keepdims: boolean,
): Dim[] | undefined {
  if (!dims) return undefined;
  const r = dims.length;
  const set = new Set((axes ?? dims.map((_, i) => i)).map((a) => normAxis(a, r)));
  const out: Dim[] = [];
  dims.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function sliceRange(dim: number, start: number, end: number, step: number): number[] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  const idx: number[] = [];
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    for (let i = s; i < e; i += step) idx.push(i);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
    for (let i = s; i > e; i += step) idx.push(i);
  }
  return idx;
}

/** The element indices a Slice selects along one axis (ONNX clamping rules). */
export function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  return sliceRange(dim, start, end, step);
}

function convOutDims(node: NodeProto, x: Dim[] | undefined, w: Dim[] | undefined): Dim[] | undefined {
  if (!x || !w) return undefined;
  const n = x.length - 2;
  const kernel = hasAttr(node, 'kernel_shape') ? attrInts(node, 'kernel_shape') : w.slice(2);
  const strides = attrInts(node, 'strides', Array(n).fill(1));
  const dil = attrInts(node, 'dilations', Array(n).fill(1));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const pads = attrInts(node, 'pads', Array(2 * n).fill(0));
  const out: Dim[] = [x[0], w[0]];
  for (let i = 0; i < n; i++) {
    const s = x[i + 2];
    const k = kernel[i];
    if (typeof s !== 'number' || typeof k !== 'number') {
      out.push(null);
      continue;
    }
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(s / strides[i]));
    else {
      const p = autoPad === 'VALID' ? 0 : pads[i] + pads[i + n];
      out.push(Math.floor((s + p - dil[i] * (k - 1) - 1) / strides[i]) + 1);
    }
  }
  return out;
}

function inferNode(node: NodeProto, opset: number, input: (i: number) => TensorInfo): TensorInfo[] {
  const x = input(0);
  const same = (): TensorInfo[] => [{ elemType: x.elemType, dims: x.dims }];
  const op = node.opType ?? '';
  switch (op) {
    case 'Constant': {
      const v = constantValue(node);
      return v ? [fromHost(v)] : [];
    }
    case 'Shape': {
      if (!x.dims) return [{ elemType: DataType.INT64 }];
      const r = x.dims.length;
      let start = attrInt(node, 'start', 0);
      let end = attrInt(node, 'end', r);
      start = Math.min(Math.max(normAxis(start, r), 0), r);
      end = Math.min(Math.max(normAxis(end, r), 0), r);
      const v = x.dims.slice(start, Math.max(start, end));
      return [{ elemType: DataType.INT64, dims: [v.length], value: v }];
    }
    case 'Size':
      return [{ elemType: DataType.INT64, dims: [], value: x.dims ? [productOf(x.dims)] : undefined }];
    case 'Cast': {
      const to = attrInt(node, 'to');
      const keepValue = INT_TYPES.has(to) && x.value !== undefined;
      return [{ elemType: to, dims: x.dims, value: keepValue ? x.value : undefined }];
    }
    case 'Identity':
    case 'Dropout':
      return [{ ...x }, { elemType: DataType.BOOL, dims: x.dims }];
    case 'Neg': {
      const value = x.value?.map((v) => (typeof v === 'number' ? -v : null));
      return [{ elemType: x.elemType, dims: x.dims, value }];
    }
    case 'Sqrt':
    case 'Erf':
    case 'Exp':
    case 'Log':
    case 'Relu':
    case 'Tanh':
    case 'Sigmoid':
    case 'Softmax':
    case 'LogSoftmax':
    case 'Reciprocal':
    case 'Abs':
    case 'Gelu':
      return same();
    case 'LayerNormalization': {
      const axis = attrInt(node, 'axis', -1);
      const statDims = x.dims?.map((d, i) => (i < normAxis(axis, x.dims!.length) ? d : 1));
      return [
        { elemType: x.elemType, dims: x.dims },
        { elemType: DataType.FLOAT, dims: statDims },
        { elemType: DataType.FLOAT, dims: statDims },
      ];
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Equal':
    case 'Less':
    case 'Greater':
    case 'Max':
    case 'Min':
    case 'Where': {
      const ins = (node.input ?? []).map((_, i) => input(i));
      const dims = ins.every((t) => t.dims)
        ? ins.reduce<Dim[]>((acc, t) => broadcastDims(acc, t.dims!), [])
        : undefined;
      const boolOut = op === 'Equal' || op === 'Less' || op === 'Greater';
      const elemType = boolOut ? DataType.BOOL : op === 'Where' ? input(1).elemType : x.elemType;
      const value = Object.hasOwn(VALUE_OPS, op) ? elementwise(ins, dims, VALUE_OPS[op]) : undefined;
      return [{ elemType, dims, value }];
    }
    case 'ConstantOfShape': {
      const fill = attrTensor(node, 'value');
      const elemType = fill ? fromHost(fill).elemType : DataType.FLOAT;
      const dims = x.value;
      let value: Dim[] | undefined;
      const n = numel(dims);
      if (fill && fill.dtype !== 'float32' && n !== undefined && n <= MAX_VALUE_ELEMENTS) {
        value = Array(n).fill(Number(fill.data[0]));
      }
      return [{ elemType, dims, value }];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes =
        opset >= 13 ? knownInts(input(1)) : hasAttr(node, 'axes') ? attrInts(node, 'axes') : undefined;
      if (!x.dims) return [{ elemType: x.elemType }];
      let dims: Dim[] | undefined;
      if (op === 'Unsqueeze' && axes) {
        const r = x.dims.length + axes.length;
        const set = new Set(axes.map((a) => normAxis(a, r)));
        dims = [];
        let k = 0;
        for (let i = 0; i < r; i++) dims.push(set.has(i) ? 1 : x.dims[k++]);
      } else if (op === 'Squeeze') {
        if (axes) {
          const set = new Set(axes.map((a) => normAxis(a, x.dims!.length)));
          dims = x.dims.filter((_, i) => !set.has(i));
        } else if (node.input?.[1] === undefined || node.input[1] === '') {
          dims = x.dims.every((d) => d !== null && typeof d === 'number')
            ? x.dims.filter((d) => d !== 1)
            : undefined;
        }
      }
      return [{ elemType: x.elemType, dims, value: dims ? x.value : undefined }];
    }
    case 'Concat': {
      const ins = (node.input ?? []).map((_, i) => input(i));
      const first = ins.find((t) => t.dims);
      if (!first?.dims || ins.some((t) => !t.dims)) return [{ elemType: x.elemType }];
      const r = first.dims.length;
      const axis = normAxis(attrInt(node, 'axis'), r);
      const dims = [...first.dims];
      dims[axis] = ins.reduce<Dim>((acc, t) => {
        const d = t.dims![axis];
        return typeof acc === 'number' && typeof d === 'number' ? acc + d : null;
      }, 0);
      for (let i = 0; i < r; i++) {
        if (i !== axis) dims[i] = ins.map((t) => t.dims![i]).find((d) => d !== null) ?? null;
      }
      const value = r === 1 && ins.every((t) => t.value) ? ins.flatMap((t) => t.value!) : undefined;
      return [{ elemType: x.elemType, dims, value }];
    }
    case 'Gather': {
      const idx = input(1);
      if (!x.dims || !idx.dims) return [{ elemType: x.elemType }];
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      let value: Dim[] | undefined;
      const ids = knownInts(idx);
      if (x.dims.length === 1 && x.value && ids) {
        value = ids.map((i) => x.value![i < 0 ? i + x.value!.length : i] ?? null);
      }
      return [{ elemType: x.elemType, dims, value }];
    }
    case 'Reshape': {
      const target = input(1).value;
      const rank = input(1).dims?.[0];
      if (!target)
        return [
          { elemType: x.elemType, dims: typeof rank === 'number' ? Array(rank).fill(null) : undefined },
        ];
      const allowzero = attrInt(node, 'allowzero', 0) === 1;
      const dims: Dim[] = target.map((d, i) => (d === 0 && !allowzero ? (x.dims?.[i] ?? null) : d));
      const neg = dims.indexOf(-1);
      if (neg >= 0) {
        const rest = dims.filter((_, i) => i !== neg);
        dims[neg] =
          x.dims && rest.every((d) => d !== null) ? divDim(productOf(x.dims), productOf(rest)) : null;
      }
      return [{ elemType: x.elemType, dims, value: x.value }];
    }
    case 'Flatten': {
      if (!x.dims) return [{ elemType: x.elemType }];
      const axis = normAxis(attrInt(node, 'axis', 1), x.dims.length);
      return [
        { elemType: x.elemType, dims: [productOf(x.dims.slice(0, axis)), productOf(x.dims.slice(axis))] },
      ];
    }
    case 'Transpose': {
      if (!x.dims) return [{ elemType: x.elemType }];
      const perm = attrInts(
        node,
        'perm',
        x.dims.map((_, i) => x.dims!.length - 1 - i),
      );
      return [{ elemType: x.elemType, dims: perm.map((p) => x.dims![p]) }];
    }
    case 'Expand': {
      const target = input(1).value;
      return [{ elemType: x.elemType, dims: target && x.dims ? broadcastDims(x.dims, target) : undefined }];
    }
    case 'Slice': {
      if (!x.dims) return [{ elemType: x.elemType }];
      const r = x.dims.length;
      const starts = knownInts(input(1));
      const ends = knownInts(input(2));
      const axes = node.input?.[3] ? knownInts(input(3)) : starts?.map((_, i) => i);
      const steps = node.input?.[4] ? knownInts(input(4)) : axes?.map(() => 1);
      if (!axes) return [{ elemType: x.elemType, dims: Array(r).fill(null) }];
      const dims = [...x.dims];
      let value: Dim[] | undefined;
      axes.forEach((a, k) => {
        const ax = normAxis(a, r);
        const d = x.dims![ax];
        if (typeof d === 'number' && starts && ends && steps) {
          const idx = sliceRange(d, starts[k], ends[k], steps[k]);
          dims[ax] = idx.length;
          if (r === 1 && x.value) value = idx.map((i) => x.value![i]);
        } else {
          dims[ax] = null;
        }
      });
      return [{ elemType: x.elemType, dims, value }];
    }
    case 'MatMul': {
      const b = input(1);
      if (!x.dims || !b.dims) return [{ elemType: x.elemType }];
      const a2 = x.dims.length === 1 ? [1, x.dims[0]] : x.dims;
      const b2 = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
      const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2));
      const dims = [...batch];
      if (x.dims.length > 1) dims.push(a2[a2.length - 2]);
      if (b.dims.length > 1) dims.push(b2[b2.length - 1]);
      return [{ elemType: x.elemType, dims }];
    }
    case 'Gemm': {
      const b = input(1);
      const m = x.dims ? x.dims[attrInt(node, 'transA', 0) ? 1 : 0] : null;
      const n = b.dims ? b.dims[attrInt(node, 'transB', 0) ? 0 : 1] : null;
      return [{ elemType: x.elemType, dims: [m ?? null, n ?? null] }];
    }
    case 'Conv':
      return [{ elemType: x.elemType, dims: convOutDims(node, x.dims, input(1).dims) }];
    case 'DequantizeLinear': {
      // The scale's type, unless opset 23's output_dtype names another one.
      const to = attrInt(node, 'output_dtype', 0);
      return [{ elemType: to || input(1).elemType || DataType.FLOAT, dims: x.dims }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd': {
      const axesAsInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
      const axes = axesAsInput
        ? node.input?.[1]
          ? knownInts(input(1))
          : undefined
        : hasAttr(node, 'axes')
          ? attrInts(node, 'axes')
          : undefined;
      const hasAxes = axesAsInput ? !!node.input?.[1] : hasAttr(node, 'axes');
      if (hasAxes && !axes) return [{ elemType: x.elemType }];
      const keep = attrInt(node, 'keepdims', 1) === 1;
      if (!hasAxes && axesAsInput && attrInt(node, 'noop_with_empty_axes', 0) === 1) return same();
      return [{ elemType: x.elemType, dims: reduceDims(x.dims, axes, keep) }];
    }
    case 'Range':
      return [{ elemType: x.elemType, dims: [null] }];
    case 'NonZero':
      return [{ elemType: DataType.INT64, dims: x.dims ? [x.dims.length, null] : undefined }];
    case 'Split': {
      if (!x.dims) return (node.output ?? []).map(() => ({ elemType: x.elemType }));
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const sizes =
        opset >= 13 ? knownInts(input(1)) : hasAttr(node, 'split') ? attrInts(node, 'split') : undefined;
      return (node.output ?? []).map((_, k) => {
        const dims = [...x.dims!];
        dims[axis] = sizes ? sizes[k] : null;
        return { elemType: x.elemType, dims };
      });
    }
    default:
      return [];
  }
}
