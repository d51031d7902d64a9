// The node builder gradient rules write through. It owns naming (unique and
// grouped under the forward node being differentiated, so a backward graph can
// be read next to its forward graph), constants and Shape nodes (emitted once
// and reused), and the shape-generic helpers every rule needs, chiefly
// reducing a broadcast gradient back to an input's shape.
import { attr, DataType, onnx, toTensorProto } from '../onnx/index.js';
import type { Dim } from './infer.js';

type AttrValue = Parameters<typeof attr>[1];

/** Opset 17 takes ReduceMean/ReduceMax axes as an attribute, 18 and later as an input. */
const REDUCE_AXES_INPUT_SINCE = 18;

export class Emitter {
  readonly nodes: onnx.NodeProto[] = [];
  private counter = 0;
  private scope = 'grad';
  private readonly cache = new Map<string, string>();
  /** Values of the int64 constants made by ints(). */
  private readonly intValues = new Map<string, number[]>();
  /** Producers of the forward graph's tensors and of emitted tensors. */
  private readonly forwardProducers = new Map<string, onnx.INodeProto>();
  private readonly emittedProducers = new Map<string, onnx.NodeProto>();

  /**
   * `taken` holds every tensor name already in the graph; new names avoid them.
   * `forward` are the forward graph's nodes, so rules can ask how a tensor was made.
   */
  constructor(
    readonly opset: number,
    private readonly taken: Set<string>,
    forward: readonly onnx.INodeProto[] = [],
  ) {
    for (const n of forward) for (const o of n.output ?? []) if (o) this.forwardProducers.set(o, n);
  }

  /** Runs fn with emitted names grouped under a scope (the forward node's name). */
  within<T>(scope: string, fn: () => T): T {
    const prior = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = prior;
    }
  }

  /** A tensor name no other tensor in the graph has. */
  fresh(hint: string): string {
    for (;;) {
      const name = `${this.scope}/${hint}_${this.counter++}`;
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
  }

  /** Claims an exact name (graph outputs such as `loss`); fails if it is in use. */
  claim(name: string): string {
    if (this.taken.has(name)) throw new Error(`tensor name '${name}' is already used by the model`);
    this.taken.add(name);
    return name;
  }

  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outputs: number | string[] = 1,
  ): string[] {
    const outs =
      typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType)) : outputs;
    const node = onnx.NodeProto.create({
      opType,
      name: this.fresh(`${opType}_node`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    this.nodes.push(node);
    for (const o of outs) if (o) this.emittedProducers.set(o, node);
    return outs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, attrs)[0];
  }

  private cached(key: string, make: () => string): string {
    let name = this.cache.get(key);
    if (!name) {
      name = make();
      this.cache.set(key, name);
    }
    return name;
  }

  // Constants. Every cached tensor is emitted where it is first needed, which is
  // before any later use because emission order is execution order.

  /** A float32 scalar (shape []). */
  scalar(value: number): string {
    return this.floats([value], []);
  }

  floats(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.cached(`f:${dims}:${values}`, () =>
      this.op('Constant', [], {
        value: toTensorProto('', { dtype: 'float32', dims: [...dims], data: Float32Array.from(values) }),
      }),
    );
  }

  /** A 1-D int64 constant. */
  ints(values: readonly number[]): string {
    return this.cached(`i:${values}`, () => {
      const name = this.op('Constant', [], {
        value: toTensorProto('', {
          dtype: 'int64',
          dims: [values.length],
          data: BigInt64Array.from(values.map((v) => BigInt(v))),
        }),
      });
      this.intValues.set(name, [...values]);
      return name;
    });
  }

  /**
   * When g is an emitted zero Pad with constant pads (a gradient put back in
   * place, as Gather's and Slice's are), its unpadded source and the pads.
   */
  zeroPadded(g: string): { source: string; pads: number[] } | undefined {
    const p = this.emittedProducers.get(g);
    if (p?.opType !== 'Pad' || (p.input?.length ?? 0) > 2 || p.attribute?.some((a) => a.name === 'mode'))
      return undefined;
    const pads = this.intValues.get(p.input?.[1] ?? '');
    return pads ? { source: p.input![0], pads } : undefined;
  }

  /** An int64 scalar (shape []). */
  int(value: number): string {
    return this.cached(`i0:${value}`, () =>
      this.op('Constant', [], {
        value: toTensorProto('', { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(value)) }),
      }),
    );
  }

  // Shapes at run time: the batch is symbolic, so most sizes are only known then.

  shape(x: string): string {
    return this.cached(`shape:${x}`, () => this.op('Shape', [x]));
  }

  /** Size of axis `axis` of x as an int64 [1] tensor. */
  dim(x: string, axis: number): string {
    return this.cached(`dim:${x}:${axis}`, () =>
      this.op('Gather', [this.shape(x), this.ints([axis])], { axis: 0 }),
    );
  }

  /** Element count of x as a float32 scalar. */
  countF(x: string): string {
    return this.cached(`count:${x}`, () => this.op('Cast', [this.op('Size', [x])], { to: DataType.FLOAT }));
  }

  zerosLike(x: string): string {
    return this.op('ConstantOfShape', [this.shape(x)], {
      value: toTensorProto('', { dtype: 'float32', dims: [1], data: Float32Array.of(0) }),
    });
  }

  // Arithmetic.

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }
  neg(a: string): string {
    return this.op('Neg', [a]);
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }

  /**
   * Sum of several tensors of one shape. Sum reads all of them in one pass,
   * where a chain of Adds would write every partial sum to memory.
   */
  sum(terms: readonly string[]): string {
    if (terms.length === 1) return terms[0];
    if (terms.length === 2) return this.add(terms[0], terms[1]);
    return this.op('Sum', [...terms]);
  }

  /**
   * Transposes x, composing with a Transpose this emitter made, so a chain of
   * layout changes costs one copy. Transposes in the forward graph are left
   * alone: the backward graph only reads the forward tensors rules declared.
   */
  transpose(x: string, perm: readonly number[]): string {
    const inner = this.emittedProducers.get(x);
    if (inner?.opType === 'Transpose') {
      const innerPerm = inner.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
      if (innerPerm && innerPerm.length === perm.length) {
        return this.transpose(
          inner.input![0],
          perm.map((p) => innerPerm[p]),
        );
      }
    }
    if (perm.every((p, i) => p === i)) return x;
    return this.cached(`T:${x}:${perm}`, () => this.op('Transpose', [x], { perm: [...perm] }));
  }

  /**
   * The permutation of the Transpose that produced x (forward or emitted),
   * or undefined when x is not a Transpose output.
   */
  transposedBy(x: string, rank: number): number[] | undefined {
    const p = this.emittedProducers.get(x) ?? this.forwardProducers.get(x);
    if (p?.opType !== 'Transpose') return undefined;
    const perm = p.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
    return perm?.length ? perm : Array.from({ length: rank }, (_, i) => rank - 1 - i);
  }

  /** Swaps the last two axes of a tensor of the given rank. */
  transposeLast2(x: string, rank: number): string {
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    return this.transpose(x, perm);
  }

  reshape(x: string, shape: string): string {
    return this.op('Reshape', [x, shape]);
  }

  /**
   * Reshapes g to the shape of x (the gradient of every view-like op). With
   * at most one dim unknown statically (the batch), a constant target with -1
   * there does it without reading Shape(x), which would keep x alive from
   * the forward pass until this point just for its shape.
   */
  reshapeLike(g: string, x: string, xDims?: readonly Dim[]): string {
    const unknown = xDims?.filter((d) => typeof d !== 'number').length;
    if (xDims && unknown !== undefined && unknown <= 1 && xDims.every((d) => d !== 0)) {
      return this.reshape(g, this.ints(xDims.map((d) => (typeof d === 'number' ? d : -1))));
    }
    return this.reshape(g, this.shape(x));
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.op('Unsqueeze', [x, this.ints(axes)]);
  }

  /** ReduceSum over static axes (or a run-time axes tensor). */
  reduceSum(
    x: string,
    axes: readonly number[] | string,
    keepdims: boolean,
    noopWithEmptyAxes = false,
  ): string {
    if (Array.isArray(axes) && axes.length === 0) return x;
    const axesName = typeof axes === 'string' ? axes : this.ints(axes as readonly number[]);
    const attrs: Record<string, AttrValue> = { keepdims: keepdims ? 1 : 0 };
    if (noopWithEmptyAxes) attrs.noop_with_empty_axes = 1;
    return this.op('ReduceSum', [x, axesName], attrs);
  }

  /** ReduceMean over static axes, in the form the target opset wants; all axes when omitted. */
  reduceMean(x: string, axes: readonly number[] | undefined, keepdims: boolean): string {
    const attrs: Record<string, AttrValue> = { keepdims: keepdims ? 1 : 0 };
    if (!axes) return this.op('ReduceMean', [x], attrs);
    if (this.opset >= REDUCE_AXES_INPUT_SINCE) return this.op('ReduceMean', [x, this.ints(axes)], attrs);
    return this.op('ReduceMean', [x], { ...attrs, axes: [...axes] });
  }

  /**
   * Sums a gradient that has the broadcast shape of an op's output back to the
   * shape of one of its inputs. Static dims decide what they can; the rest is
   * decided at run time from Shape(x), so the result is right for any batch.
   */
  unbroadcast(g: string, gDims: Dim[] | undefined, x: string, xDims: Dim[] | undefined): string {
    if (!gDims || !xDims) return this.unbroadcastDynamic(g, x);
    const lead = gDims.length - xDims.length;
    if (lead < 0) return this.unbroadcastDynamic(g, x);
    let out = this.reduceSum(
      g,
      Array.from({ length: lead }, (_, i) => i),
      false,
    );
    const axes: number[] = [];
    let undecided = false;
    xDims.forEach((d, i) => {
      const gd = gDims[i + lead];
      if (d !== null && d === gd) return;
      if (typeof d === 'number' && d !== 1) return;
      if (d === 1) {
        if (gd !== 1) axes.push(i);
        return;
      }
      undecided = true;
    });
    if (undecided) {
      // Ranks now agree; sum wherever x has extent 1 (a no-op where g has it too).
      const ones = this.op('Equal', [this.shape(x), this.ints([1])]);
      const where = this.reshape(this.op('NonZero', [ones]), this.ints([-1]));
      return this.reduceSum(out, where, true, true);
    }
    if (axes.length > 0) out = this.reduceSum(out, axes, true);
    return out;
  }

  /** Unbroadcast when not even the ranks are known statically. */
  private unbroadcastDynamic(g: string, x: string): string {
    const sx = this.shape(x);
    const lead = this.sub(this.op('Size', [this.shape(g)]), this.op('Size', [sx]));
    const ones = this.op('ConstantOfShape', [this.reshape(lead, this.ints([1]))], {
      value: toTensorProto('', { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) }),
    });
    const padded = this.op('Concat', [ones, sx], { axis: 0 });
    const where = this.reshape(
      this.op('NonZero', [this.op('Equal', [padded, this.ints([1])])]),
      this.ints([-1]),
    );
    return this.reshape(this.reduceSum(g, where, true, true), sx);
  }
}
