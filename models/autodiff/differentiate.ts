/**
 * Reverse-mode differentiation of ONNX graphs into plain ONNX graphs.
 *
 * onnxruntime-web has no training build, so a backward pass must be an
 * ordinary inference graph. `differentiate` returns one model that runs the
 * forward graph, then a loss (or takes an upstream gradient), then the
 * backward nodes, and outputs the loss, the original outputs and
 * `grad.<name>` for every requested tensor. The forward nodes compute what
 * they did; the only change is that a rule may name optional outputs a node
 * left out (LayerNormalization's saved Mean and InvStdDev) to read them.
 *
 * The algorithm:
 * 1. Opset: the result targets opset >= 17 with default-domain ops only; 13-16
 *    sources are upgraded (see opset.ts).
 * 2. Trainables: requested initializers leave the initializer list and become
 *    graph inputs, supplied per call; frozen initializers stay.
 * 3. Static inference (infer.ts): element types, ranks, dims (symbolic batch
 *    included) and folded integer shape arithmetic, best effort.
 * 4. Activity analysis: a tensor is *varied* if it is float and depends on a
 *    requested tensor through differentiable input positions, and *useful* if
 *    the objective depends on it. Only nodes with a varied and useful output
 *    are differentiated; everything else (all integer shape arithmetic in
 *    exported graphs) is copied as-is and never needs a rule. An active node
 *    whose op type has no rule is an error naming the op and the node.
 *    DequantizeLinear (quantized frozen weights, models/quantize) is a
 *    constant: gradients flow past it to the activations, and a
 *    differentiated tensor reaching one of its inputs is an error.
 * 5. Reverse sweep: nodes are visited in reverse topological order, with
 *    known multi-node spellings of one operator (exact GELU below opset 20,
 *    patterns.ts) visited as that operator. A tensor's gradient is final once
 *    all its consumers are visited; contributions from several consumers are
 *    summed (one Add, or one Sum for three or more). Each rule (rules/,
 *    registry.ts) emits the nodes for its inputs' gradients through the
 *    Emitter.
 * 6. Broadcasting: a rule whose output broadcast an input reduces the gradient
 *    back (Emitter.unbroadcast): sum leading axes, then keep-dims sums over
 *    axes where the input has extent 1, decided statically when dims are known
 *    and from Shape(input) at run time otherwise, so symbolic batches work.
 * 7. Layout (schedule.ts): nodes no output needs are dropped, gradient
 *    outputs are written by their producers, and the nodes writing them are
 *    ordered so onnxruntime runs each weight gradient as soon as its inputs
 *    exist.
 *
 * The loss is a scalar of shape [] (the mean over the batch).
 */
import {
  DataType,
  encodeModel,
  fromTensorProto,
  type GraphProto,
  graphOf,
  type HostTensor,
  isHostDataType,
  type ModelProto,
  type NodeProto,
  onnx,
  opsetOf,
  type TensorProto,
  toNumber,
  type ValueInfoProto,
  valueInfo,
} from '../onnx/index.js';
import { Emitter } from './emitter.js';
import {
  constantValue,
  type Dim,
  type InfoMap,
  inferGraph,
  infoFromValueInfo,
  isFloatType,
  knownInts,
  type TensorInfo,
} from './infer.js';
import { crossEntropy, meanSquaredError } from './losses.js';
import { upgradeOpset } from './opset.js';
import { foldComposites } from './patterns.js';
import { ruleFor } from './registry.js';
import type { GradContext, GradRule } from './rule.js';
import { layoutNodes } from './schedule.js';

export type LossKind = 'cross-entropy' | 'mse';

/** Seeds the backward pass of one output with a caller-supplied gradient. */
export interface SeedSpec {
  /** The model output whose gradient is supplied. */
  output: string;
  /** Name of the new float input carrying dL/d output (same shape as the output). */
  gradInput: string;
}

interface CommonOptions {
  /** Initializers and/or graph inputs to differentiate with respect to. */
  wrt: readonly string[];
  /** Prefix of the gradient outputs; default `grad.`. */
  gradPrefix?: string;
}

/** Training a whole model: append a loss to one output. */
export interface LossOptions extends CommonOptions {
  loss: LossKind;
  /** The output the loss reads; default: the model's only output. */
  output?: string;
  /**
   * Name of the new target input: int64 class labels shaped like the output
   * without its last axis (cross-entropy, default `labels`), or float targets
   * shaped like the output (mse, default `targets`).
   */
  target?: string;
  seed?: never;
}

/**
 * Split training: the loss lives elsewhere (the tail, on the server) and the
 * caller supplies dL/d output, e.g. the gradient of the cut activation for the
 * head's backward pass. No loss output is produced.
 */
export interface SeedOptions extends CommonOptions {
  seed: SeedSpec | readonly SeedSpec[];
  loss?: never;
}

export type DifferentiateOptions = LossOptions | SeedOptions;

const LOSS_OUTPUT = 'loss';

/**
 * Ops whose outputs are constants of the model. DequantizeLinear expands
 * quantized frozen weights: their codes are integers and have no gradient, so
 * gradients stop there, and differentiating with respect to a scale is refused
 * rather than answered with a silent zero.
 */
const CONSTANT_OPS = new Set(['DequantizeLinear']);

export function differentiate(model: onnx.IModelProto, options: DifferentiateOptions): ModelProto {
  const out = onnx.ModelProto.decode(encodeModel(model));
  const graph = graphOf(out);
  const opset = upgradeOpset(out);
  const prefix = options.gradPrefix ?? 'grad.';

  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', t);
  const forwardInputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  const inputNames = new Set(forwardInputs.map((i) => i.name ?? ''));

  const wrt = [...new Set(options.wrt)];
  if (wrt.length === 0) throw new Error('nothing to differentiate: wrt is empty');
  const constantOutputs = new Set(
    (graph.node ?? []).filter((n) => CONSTANT_OPS.has(n.opType ?? '')).flatMap((n) => n.output ?? []),
  );
  for (const name of wrt) {
    if (constantOutputs.has(name)) {
      throw new Error(
        `'${name}' is a quantized weight (DequantizeLinear output): it is frozen and has no gradient`,
      );
    }
    if (!inputNames.has(name) && !initializers.has(name)) {
      throw new Error(`'${name}' is neither a graph input nor an initializer`);
    }
  }
  const trainable = wrt.filter((n) => initializers.has(n));
  const trainableInputs = trainable.map((n) => {
    const t = initializers.get(n)!;
    return valueInfo(n, t.dataType ?? DataType.FLOAT, (t.dims ?? []).map(toNumber));
  });
  const frozen = new Map([...initializers].filter(([n]) => !trainable.includes(n)));
  graph.initializer = [...frozen.values()];

  const infos = inferGraph(graph, opset, seedInfos(graph, forwardInputs, trainableInputs, frozen));
  const constants = constantLookup(graph, frozen);
  for (const name of wrt) {
    const t = infos.get(name)?.elemType;
    if (t !== DataType.FLOAT)
      throw new Error(`'${name}' is not float32; only float32 tensors can be differentiated`);
  }

  const outputs = graph.output ?? [];
  const outputNames = new Set(outputs.map((o) => o.name ?? ''));
  const seeds: readonly SeedSpec[] = options.seed
    ? Array.isArray(options.seed)
      ? (options.seed as readonly SeedSpec[])
      : [options.seed as SeedSpec]
    : [];
  let objectiveOutputs: string[];
  if (options.loss) {
    const name = options.output ?? (outputs.length === 1 ? outputs[0].name : undefined);
    if (!name)
      throw new Error(`the model has ${outputs.length} outputs; say which one the loss reads (output)`);
    if (!outputNames.has(name)) throw new Error(`'${name}' is not a model output`);
    objectiveOutputs = [name];
  } else {
    if (seeds.length === 0) throw new Error('give either a loss or a seed');
    for (const s of seeds)
      if (!outputNames.has(s.output)) throw new Error(`'${s.output}' is not a model output`);
    objectiveOutputs = seeds.map((s) => s.output);
  }

  const order = topologicalOrder(graph, [...inputNames, ...trainable, ...frozen.keys()]);
  const activity = analyzeActivity(order, new Set(wrt), new Set(objectiveOutputs), infos);

  const taken = new Set<string>([...inputNames, ...initializers.keys()]);
  for (const n of order) for (const o of n.output ?? []) taken.add(o);
  for (const o of outputNames) taken.add(o);
  const emit = new Emitter(opset, taken, order);
  const contributions = new Map<string, string[]>();
  const contribute = (name: string, g: string) => {
    const list = contributions.get(name);
    if (list) list.push(g);
    else contributions.set(name, [g]);
  };
  const total = (name: string): string | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      const sum = emit.within(`grad/accumulate/${name}`, () => emit.sum(list));
      contributions.set(name, [sum]);
    }
    return contributions.get(name)![0];
  };

  const extraInputs: onnx.ValueInfoProto[] = [];
  const extraOutputs: onnx.ValueInfoProto[] = [];
  if (options.loss) {
    const output = objectiveOutputs[0];
    const outInfo = infos.get(output) ?? {};
    const target = options.target ?? (options.loss === 'cross-entropy' ? 'labels' : 'targets');
    emit.claim(target);
    const lossName = emit.claim(LOSS_OUTPUT);
    const parts = emit.within('loss', () => {
      if (options.loss === 'cross-entropy') {
        extraInputs.push(tensorInfo(target, DataType.INT64, outInfo.dims?.slice(0, -1)));
        return crossEntropy(emit, output, target, lossName);
      }
      extraInputs.push(tensorInfo(target, DataType.FLOAT, outInfo.dims));
      return meanSquaredError(emit, output, target, lossName);
    });
    extraOutputs.push(valueInfo(lossName, DataType.FLOAT, []));
    contribute(output, parts.grad);
  } else {
    for (const s of seeds) {
      emit.claim(s.gradInput);
      const dims = infos.get(s.output)?.dims;
      extraInputs.push(tensorInfo(s.gradInput, DataType.FLOAT, dims));
      contribute(s.output, s.gradInput);
    }
  }

  const producers = new Map<string, NodeProto>();
  const uses = new Map<string, number>();
  for (const n of order) {
    for (const o of n.output ?? []) if (o) producers.set(o, n);
    for (const i of readsOf(n)) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of outputNames) uses.set(o, (uses.get(o) ?? 0) + 1);
  const sweep = foldComposites(activity.nodes, {
    producer: (name) => producers.get(name),
    uses: (name) => uses.get(name) ?? 0,
    constant: constants,
  });

  for (const node of [...sweep].reverse()) {
    const outGrads = (node.output ?? []).map((o) => (activity.active(o) ? total(o) : undefined));
    if (outGrads.every((g) => g === undefined)) continue;
    const rule = ruleFor(node.opType ?? '');
    if (!rule) {
      throw new Error(
        `no gradient rule for operator ${node.opType} (node '${node.name}'); it lies on a path from a differentiated tensor to the objective`,
      );
    }
    const wants = (node.input ?? []).map(
      (name, i) => !!name && isDifferentiable(rule, i) && activity.active(name),
    );
    for (const name of [...(node.input ?? []).filter((_, i) => wants[i]), ...(node.output ?? [])]) {
      const t = infos.get(name)?.elemType;
      if (activity.active(name) && t !== undefined && t !== DataType.FLOAT) {
        throw new Error(
          `${node.opType} node '${node.name}': '${name}' is not float32; only float32 is differentiated`,
        );
      }
    }
    const ctx = makeContext(node, rule, emit, opset, infos, constants, outGrads, wants);
    const grads = emit.within(`grad${scopeOf(node)}`, () => rule.backward(ctx));
    (node.input ?? []).forEach((name, i) => {
      if (!wants[i]) return;
      const g = grads[i];
      if (!g) throw new Error(`${node.opType} node '${node.name}': rule returned no gradient for input ${i}`);
      contribute(name, g);
    });
  }

  const gradOutputs: onnx.ValueInfoProto[] = [];
  for (const name of wrt) {
    const outName = emit.claim(`${prefix}${name}`);
    emit.within(`grad/${name}`, () => {
      // A tensor the objective does not depend on has a zero gradient.
      const g = total(name) ?? emit.zerosLike(name);
      emit.node('Identity', [g], {}, [outName]);
    });
    gradOutputs.push(tensorInfo(outName, DataType.FLOAT, infos.get(name)?.dims));
  }

  graph.input = [...forwardInputs, ...extraInputs, ...trainableInputs];
  graph.output = [...extraOutputs, ...outputs, ...gradOutputs];
  graph.node = layoutNodes(order, emit.nodes, graph.output, readsOf);
  return out;
}

/** Float initializers the objective depends on through differentiable ops (the CLI's `params`). */
export function trainableParameters(model: onnx.IModelProto, outputs?: readonly string[]): string[] {
  const graph = graphOf(model);
  const frozen = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) frozen.set(t.name ?? '', t);
  const inputs = (graph.input ?? []).filter((i) => !frozen.has(i.name ?? ''));
  // Quantization scales are float initializers but not parameters.
  const quantization = new Set(
    (graph.node ?? []).filter((n) => CONSTANT_OPS.has(n.opType ?? '')).flatMap((n) => n.input ?? []),
  );
  const candidates = [...frozen.values()]
    .filter((t) => t.dataType === DataType.FLOAT && !quantization.has(t.name ?? ''))
    .map((t) => t.name ?? '');
  const objective = outputs ?? (graph.output ?? []).map((o) => o.name ?? '');
  const opset = opsetOf(model);
  const infos = inferGraph(graph, opset, seedInfos(graph, inputs, [], frozen));
  const order = topologicalOrder(graph, [...inputs.map((i) => i.name ?? ''), ...frozen.keys()]);
  const activity = analyzeActivity(order, new Set(candidates), new Set(objective), infos);
  return candidates.filter((c) => activity.active(c));
}

/** Float graph inputs (the CLI's `inputs`). */
export function floatInputs(model: onnx.IModelProto): string[] {
  const graph = graphOf(model);
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? [])
    .filter((i) => !inits.has(i.name) && i.type?.tensorType?.elemType === DataType.FLOAT)
    .map((i) => i.name ?? '');
}

/** A value info that states no shape at all when the shape is unknown (not a scalar). */
function tensorInfo(name: string, elemType: number, dims: Dim[] | undefined): onnx.ValueInfoProto {
  if (dims) return valueInfo(name, elemType, dims);
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } });
}

function scopeOf(node: NodeProto): string {
  const name = node.name || node.output?.[0] || node.opType || 'node';
  return name.startsWith('/') ? name : `/${name}`;
}

function isDifferentiable(rule: GradRule | undefined, i: number): boolean {
  if (!rule || rule.differentiable === 'all') return true;
  return rule.differentiable.includes(i);
}

function seedInfos(
  graph: GraphProto,
  inputs: ValueInfoProto[],
  trainable: ValueInfoProto[],
  frozen: Map<string, TensorProto>,
): InfoMap {
  const infos: InfoMap = new Map();
  for (const v of [...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    if (v.name) infos.set(v.name, infoFromValueInfo(v));
  }
  for (const v of [...inputs, ...trainable]) infos.set(v.name ?? '', infoFromValueInfo(v));
  for (const [name, t] of frozen) {
    const dims = (t.dims ?? []).map(toNumber);
    const info: TensorInfo = { elemType: t.dataType ?? undefined, dims };
    // Small integer initializers take part in shape arithmetic; floats are never decoded here.
    if (t.dataType === DataType.INT64 && dims.reduce((a, b) => a * b, 1) <= 64) {
      info.value = Array.from(fromTensorProto(t).data as BigInt64Array, Number);
    }
    infos.set(name, info);
  }
  return infos;
}

/** Decodes constants lazily: Constant node outputs and frozen initializers. */
function constantLookup(
  graph: GraphProto,
  frozen: Map<string, TensorProto>,
): (name: string) => HostTensor | undefined {
  const constantNodes = new Map<string, NodeProto>();
  for (const n of graph.node ?? [])
    if (n.opType === 'Constant' && n.output?.[0]) constantNodes.set(n.output[0], n);
  const cache = new Map<string, HostTensor | undefined>();
  return (name) => {
    if (!cache.has(name)) {
      const node = constantNodes.get(name);
      const t = frozen.get(name);
      // Quantized codes (int8, int4) are not host tensors; no rule reads them as constants.
      const decodable = t && isHostDataType(t.dataType);
      cache.set(name, node ? constantValue(node) : decodable ? fromTensorProto(t) : undefined);
    }
    return cache.get(name);
  };
}

/**
 * Tensors a node reads: its inputs plus, for If/Loop/Scan, the outer-scope
 * tensors its subgraphs use. Activity analysis must see those, or a gradient
 * path through a subgraph would silently vanish instead of being reported.
 */
function readsOf(node: NodeProto): string[] {
  const names = (node.input ?? []).filter((i) => !!i);
  const visit = (g: onnx.IGraphProto) => {
    const local = new Set<string>([
      ...(g.input ?? []).map((i) => i.name ?? ''),
      ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ]);
    for (const n of g.node ?? []) {
      for (const i of n.input ?? []) if (i && !local.has(i)) names.push(i);
      for (const o of n.output ?? []) local.add(o);
      subgraphs(n).forEach(visit);
    }
  };
  subgraphs(node).forEach(visit);
  return names;
}

function subgraphs(node: NodeProto): onnx.IGraphProto[] {
  return (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

/** Topological order: the file order when it already is one (ONNX requires it), else Kahn's algorithm. */
function topologicalOrder(graph: GraphProto, available: string[]): NodeProto[] {
  const nodes = graph.node ?? [];
  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.output ?? []) if (o) produced.add(o);
  // Names no node produces are graph inputs or initializers (or dangling): never blocking.
  const deps = new Map(nodes.map((n) => [n, [...new Set(readsOf(n).filter((i) => produced.has(i)))]]));
  const ready = new Set<string>(available);
  let sorted = true;
  for (const n of nodes) {
    if (!deps.get(n)!.every((i) => ready.has(i))) {
      sorted = false;
      break;
    }
    for (const o of n.output ?? []) ready.add(o);
  }
  if (sorted) return [...nodes];

  const pending = new Map<NodeProto, number>();
  const waiting = new Map<string, NodeProto[]>();
  let queue: NodeProto[] = [];
  for (const n of nodes) {
    const d = deps.get(n)!;
    pending.set(n, d.length);
    for (const i of d) {
      const list = waiting.get(i);
      if (list) list.push(n);
      else waiting.set(i, [n]);
    }
    if (d.length === 0) queue.push(n);
  }
  const position = new Map(nodes.map((n, i) => [n, i]));
  const order: NodeProto[] = [];
  while (queue.length > 0) {
    queue.sort((a, b) => position.get(a)! - position.get(b)!);
    const next: NodeProto[] = [];
    for (const n of queue) {
      order.push(n);
      for (const o of n.output ?? []) {
        for (const m of waiting.get(o) ?? []) {
          const left = pending.get(m)! - 1;
          pending.set(m, left);
          if (left === 0) next.push(m);
        }
        waiting.delete(o);
      }
    }
    queue = next;
  }
  if (order.length !== nodes.length) throw new Error('the graph has a cycle');
  return order;
}

interface Activity {
  /** Nodes with an active output, in topological order. */
  nodes: NodeProto[];
  active(name: string): boolean;
}

function analyzeActivity(
  order: NodeProto[],
  wrt: Set<string>,
  objective: Set<string>,
  infos: InfoMap,
): Activity {
  const varied = new Set(wrt);
  for (const node of order) {
    if (CONSTANT_OPS.has(node.opType ?? '')) {
      const hit = (node.input ?? []).find((name) => name && varied.has(name));
      if (hit) {
        throw new Error(
          `${node.opType} node '${node.name}' reads '${hit}', which depends on a differentiated tensor: quantized weights are frozen constants with no gradient (differentiate the fp32 model, or keep this weight in fp32 when quantizing)`,
        );
      }
      continue;
    }
    const rule = ruleFor(node.opType ?? '');
    const reached =
      (node.input ?? []).some((name, i) => !!name && varied.has(name) && isDifferentiable(rule, i)) ||
      (!rule && readsOf(node).some((name) => varied.has(name)));
    if (!reached) continue;
    for (const o of node.output ?? []) {
      const t = infos.get(o)?.elemType;
      // Unknown types count as float, so an unfamiliar op is reported rather than skipped.
      if (o && (t === undefined || isFloatType(t))) varied.add(o);
    }
  }
  const useful = new Set([...objective].filter((o) => varied.has(o)));
  const nodes: NodeProto[] = [];
  for (const node of [...order].reverse()) {
    if (!(node.output ?? []).some((o) => useful.has(o))) continue;
    nodes.push(node);
    const rule = ruleFor(node.opType ?? '');
    (node.input ?? []).forEach((name, i) => {
      if (name && varied.has(name) && isDifferentiable(rule, i)) useful.add(name);
    });
    if (!rule) for (const name of readsOf(node)) if (varied.has(name)) useful.add(name);
  }
  return { nodes: nodes.reverse(), active: (name) => useful.has(name) };
}

function makeContext(
  node: NodeProto,
  rule: GradRule,
  emit: Emitter,
  opset: number,
  infos: InfoMap,
  constants: (name: string) => HostTensor | undefined,
  outGrads: Array<string | undefined>,
  wants: boolean[],
): GradContext {
  const fail = (message: string): never => {
    throw new Error(`${node.opType} node '${node.name}': ${message}`);
  };
  const declared = (list: readonly number[] | 'all' | undefined, i: number) =>
    list === 'all' || (list?.includes(i) ?? false);
  const inName = (i: number) => node.input?.[i] ?? '';
  const inInfo = (i: number): TensorInfo => infos.get(inName(i)) ?? {};
  const outInfo = (i: number): TensorInfo => infos.get(node.output?.[i] ?? '') ?? {};
  return {
    node,
    emit,
    opset,
    input(i) {
      if (!declared(rule.saves.inputs, i))
        fail(`gradient rule reads input ${i} but does not declare it in saves`);
      if (!inName(i)) fail(`input ${i} is absent`);
      return inName(i);
    },
    output(i) {
      if (!declared(rule.saves.outputs, i))
        fail(`gradient rule reads output ${i} but does not declare it in saves`);
      let name = node.output?.[i];
      if (!name) {
        // An optional output the forward node did not produce (LayerNormalization's
        // Mean and InvStdDev): the forward node now produces it, which is cheaper
        // than recomputing it in the backward graph.
        name = emit.fresh(`saved_output_${i}`);
        const outs = [...(node.output ?? [])];
        while (outs.length < i) outs.push('');
        outs[i] = name;
        node.output = outs;
      }
      return name;
    },
    hasInput: (i) => !!inName(i),
    inInfo,
    outInfo,
    inRank(i) {
      const dims = inInfo(i).dims;
      if (!dims) fail(`cannot infer the rank of input ${i} ('${inName(i)}'); add value_info for it`);
      return dims!.length;
    },
    outRank(i) {
      const dims = outInfo(i).dims;
      if (!dims) fail(`cannot infer the rank of output ${i}; add value_info for it`);
      return dims!.length;
    },
    constant: (i) => (inName(i) ? constants(inName(i)) : undefined),
    ints(i) {
      const known = knownInts(inInfo(i));
      if (known) return known;
      const c = inName(i) ? constants(inName(i)) : undefined;
      return c && c.dtype !== 'float32'
        ? Array.from(c.data as ArrayLike<number | bigint>, Number)
        : undefined;
    },
    grad: (i) => outGrads[i],
    wants: (i) => wants[i] ?? false,
    fail,
  };
}
