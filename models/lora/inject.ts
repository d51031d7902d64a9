// LoRA injection by weight merging: for each adapted weight W the graph
// computes W' = W + scale·ΔW from two new graph inputs A and B, and every node
// that read W reads W' instead. ΔW is B·A ([out, in]) laid onto W's own layout,
// so the consumers (MatMul, Transpose → MatMul, Gemm with either transB) stay
// untouched and the whole update is plain MatMul/Transpose/Mul/Add, which the
// autodiff differentiates and every ONNX runtime executes.
//
// Adapting a weight rather than adding a parallel x·Aᵀ·Bᵀ branch costs one
// [out, in] matrix per layer per call, independent of the batch; it is the
// only formulation that needs no knowledge of what the consumer does with the
// weight (a fused torch `in_proj_weight` [3D, D] simply gets one adapter over
// all of q, k and v), nor how W is stored: a quantized W is adapted as its
// DequantizeLinear output (weight-tensors.ts).
import { consumers as consumersOf, graphOf, valueInfo } from '../onnx/model.js';
import { DataType, type ModelProto, type NodeProto, onnx, type TensorProto } from '../onnx/proto.js';
import { fromTensorProto } from '../onnx/tensor.js';
import { adapterNodes } from './adapter-nodes.js';
import { initLoraA, initLoraB } from './init.js';
import { type LoraRecord, readTrainables, withTrainables } from './metadata.js';
import { isEmptyPattern, type NamePattern } from './patterns.js';
import { selectFullParams, selectLinearTargets } from './select.js';
import type { AdapterSpec, FloatTensor } from './types.js';
import { weightTensors } from './weight-tensors.js';

export interface LoraOptions {
  /** Weights to adapt: a RegExp over initializer names, or exact names. `[]` = none (full mode only). */
  targets: NamePattern;
  rank: number;
  alpha: number;
  /** Seeds A's initialisation (per weight, see init.ts). */
  seed: number;
  /** Initializers to train directly, e.g. `/^embed\./` or `/^head\./`. */
  full?: NamePattern;
}

export interface LoraInjection {
  model: ModelProto;
  /** Every trainable input added by this call, in the order of the initializers they come from. */
  adapters: AdapterSpec[];
  /** Starting values keyed by input name: A random, B zero, full params their current values. */
  initial: Record<string, FloatTensor>;
  /** alpha / rank. */
  scale: number;
}

function validateOptions(o: LoraOptions): void {
  if (!Number.isInteger(o.rank) || o.rank <= 0)
    throw new Error(`LoRA rank must be a positive integer, got ${o.rank}`);
  if (!Number.isFinite(o.alpha) || o.alpha <= 0)
    throw new Error(`LoRA alpha must be positive, got ${o.alpha}`);
  if (!Number.isInteger(o.seed)) throw new Error(`LoRA seed must be an integer, got ${o.seed}`);
  if (isEmptyPattern(o.targets) && isEmptyPattern(o.full)) {
    throw new Error('nothing to train: give LoRA targets, full-mode parameters, or both');
  }
}

function assertFresh(names: Iterable<string>, taken: ReadonlySet<string>, base: string): void {
  for (const n of names) {
    if (taken.has(n))
      throw new Error(`cannot add LoRA to ${base}: the graph already has a tensor named ${n}`);
  }
}

/**
 * Adds LoRA adapters (and full-mode parameters) to a copy of `model` as graph
 * inputs. The base weights stay initializers; one loaded session then serves
 * any adapter values, supplied per call. `model` is not modified.
 */
export function injectLora(model: ModelProto, options: LoraOptions): LoraInjection {
  validateOptions(options);
  const graph = graphOf(model);
  const uses = consumersOf(graph);
  const record = readTrainables(model);
  const targets = isEmptyPattern(options.targets)
    ? []
    : selectLinearTargets(graph, options.targets, uses, new Set(record.lora.map((r) => r.base)));
  const full = isEmptyPattern(options.full) ? [] : selectFullParams(graph, options.full as NamePattern);
  const fullNames = new Set(full.map((t) => t.name ?? ''));
  const both = targets.filter((t) => fullNames.has(t.tensor.name ?? ''));
  if (both.length > 0) {
    throw new Error(`${both[0].tensor.name} is selected both for LoRA and for full-mode training`);
  }

  const taken = new Set<string>();
  for (const i of graph.input ?? []) taken.add(i.name ?? '');
  for (const t of graph.initializer ?? []) taken.add(t.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) taken.add(o);

  // Emit each target's nodes just before W's first reader, so node order stays
  // topological and reads naturally (the new nodes depend only on inputs and W).
  const nodesList = graph.node ?? [];
  const before = new Map<number, onnx.NodeProto[]>();
  const renamed = new Map<string, string>();
  const adapters: AdapterSpec[] = [];
  const initial: Record<string, FloatTensor> = {};
  const newInputs: onnx.ValueInfoProto[] = [];
  const records: LoraRecord[] = [];
  const targetByName = new Map(targets.map((t) => [t.tensor.name ?? '', t]));

  const addInput = (spec: AdapterSpec, value: FloatTensor) => {
    adapters.push(spec);
    initial[spec.name] = value;
    newInputs.push(valueInfo(spec.name, DataType.FLOAT, spec.shape));
  };

  // One pass in initializer order keeps the adapter list deterministic.
  for (const tensor of weightTensors(graph, uses)) {
    const name = tensor.name ?? '';
    const target = targetByName.get(name);
    if (target) {
      const { nodes, record: rec } = adapterNodes(target, options.rank, options.alpha);
      assertFresh([rec.a, rec.b, ...nodes.flatMap((n) => n.output ?? [])], taken, name);
      const first = nodesList.findIndex((n) => (n.input ?? []).includes(name));
      before.set(first, [...(before.get(first) ?? []), ...nodes]);
      renamed.set(name, rec.merged);
      records.push(rec);
      const { inDim, outDim } = target.use;
      addInput(
        { name: rec.a, shape: [options.rank, inDim], base: name, role: 'lora_A' },
        initLoraA(options.seed, name, options.rank, inDim),
      );
      addInput(
        { name: rec.b, shape: [outDim, options.rank], base: name, role: 'lora_B' },
        initLoraB(outDim, options.rank),
      );
    } else if (fullNames.has(name)) {
      const value = fromTensorProto(tensor) as FloatTensor; // selectFullParams checked float32
      adapters.push({ name, shape: value.dims, base: name, role: 'full' });
      initial[name] = value;
      // Before IR 4 initializers were listed as graph inputs already.
      if (!(graph.input ?? []).some((i) => i.name === name)) {
        newInputs.push(valueInfo(name, DataType.FLOAT, value.dims));
      }
    }
  }

  const node: NodeProto[] = [];
  nodesList.forEach((n, i) => {
    node.push(...(before.get(i) ?? []));
    const input = n.input ?? [];
    node.push(
      input.some((x) => renamed.has(x))
        ? onnx.NodeProto.create({ ...n, input: input.map((x) => renamed.get(x) ?? x) })
        : n,
    );
  });

  const adapted = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...graph,
      node,
      input: [...(graph.input ?? []), ...newInputs],
      initializer: (graph.initializer ?? []).filter((t: TensorProto) => !fullNames.has(t.name ?? '')),
    }),
    metadataProps: withTrainables(model, {
      version: 1,
      lora: [...record.lora, ...records],
      full: [...record.full, ...fullNames],
    }),
  });
  return { model: adapted, adapters, initial, scale: options.alpha / options.rank };
}

/** Trainable element count of a list of specs. */
export function trainableParameterCount(specs: readonly AdapterSpec[]): number {
  return specs.reduce((sum, s) => sum + s.shape.reduce((a, d) => a * d, 1), 0);
}
