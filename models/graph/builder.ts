// A small imperative helper for writing ONNX graphs by hand: scoped node
// names in the style torch.onnx.export uses (`/scope/Op_1`), unique tensor
// names, initializers and Constant nodes from HostTensors.
import { attr } from '../onnx/attributes.js';
import { type GraphProto, onnx, type ValueInfoProto } from '../onnx/proto.js';
import { type HostTensor, toTensorProto } from '../onnx/tensor.js';

export type AttrValue = Parameters<typeof attr>[1];

export interface NodeOptions {
  /** Explicit output tensor names; defaults to `<node name>_output_<i>`. */
  outputs?: string[];
  /** Number of outputs when names are generated. */
  outputCount?: number;
  attrs?: Record<string, AttrValue>;
  /** Explicit node name (still made unique); defaults to `<scope>/<op>`. */
  name?: string;
}

export class GraphBuilder {
  private readonly nodes: onnx.NodeProto[] = [];
  private readonly initializers: onnx.TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly valueInfos: ValueInfoProto[] = [];
  private readonly taken = new Set<string>();
  private readonly scopes: string[] = [];

  /** The current scope prefix, e.g. `/blocks/0/attn`. */
  get scope(): string {
    return this.scopes.map((s) => `/${s}`).join('');
  }

  /** Runs `fn` with `name` pushed onto the scope stack. */
  within<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** Returns `base` or, if taken, `base_1`, `base_2`, ...; reserves the result. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  private reserve(name: string): string {
    if (this.taken.has(name)) throw new Error(`graph builder: name ${name} is already used`);
    this.taken.add(name);
    return name;
  }

  input(info: ValueInfoProto): string {
    this.inputs.push(info);
    return this.reserve(info.name ?? '');
  }

  output(info: ValueInfoProto): void {
    this.outputs.push(info);
  }

  /** Records a shape annotation for an intermediate tensor. */
  annotate(info: ValueInfoProto): void {
    this.valueInfos.push(info);
  }

  initializer(name: string, tensor: HostTensor): string {
    this.initializers.push(toTensorProto(this.reserve(name), tensor));
    return name;
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: string[], options: NodeOptions = {}): string[] {
    const name = this.unique(options.name ?? `${this.scope}/${opType}`);
    const outputs =
      options.outputs?.map((o) => this.reserve(o)) ??
      Array.from({ length: options.outputCount ?? 1 }, (_, i) => this.reserve(`${name}_output_${i}`));
    const attribute = Object.entries(options.attrs ?? {}).map(([k, v]) => attr(k, v));
    this.nodes.push(onnx.NodeProto.create({ name, opType, input: inputs, output: outputs, attribute }));
    return outputs;
  }

  /** Adds a single-output node and returns its output name. */
  op(opType: string, inputs: string[], options: NodeOptions = {}): string {
    const [out] = this.node(opType, inputs, options);
    return out;
  }

  /** A Constant node holding `tensor`. */
  constant(tensor: HostTensor, name?: string): string {
    const value = toTensorProto('', tensor);
    return this.op('Constant', [], { attrs: { value }, name });
  }

  graph(name: string): GraphProto {
    return onnx.GraphProto.create({
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
      valueInfo: this.valueInfos,
    });
  }
}
