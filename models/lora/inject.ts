// LoRA injection. Each adapted weight W gets two new graph inputs, A [rank, in]
// and B [out, rank], and the layer computes x·(W + scale·B·A) in one of two
// ways, both plain MatMul/Transpose/Mul/Add that the autodiff differentiates
// and every ONNX runtime executes:
//
// - branch: every MatMul y = x·W (or x·Wᵀ, torch Linear) keeps its product and
//   gets y = x·W + (x·Aᵀ)·(scale·Bᵀ) (branch-nodes.ts). W is read only by its
//   products, so a quantized W (DequantizeLinear → MatMul) stays fusable into
//   onnxruntime's MatMulNBits and is never expanded to fp32; quantizing after
//   injection still finds W as a MatMul weight. Costs tokens·rank·(in + out)
//   per product per call. Needs every reader of W to be such a MatMul.
// - merge: the graph computes W' = W + scale·ΔW and every reader of W reads W'
//   instead (adapter-nodes.ts). Needs no knowledge of the readers (Gemm with
//   either transB works), but costs one [out, in] matrix per layer per call,
//   kept alive for the backward pass, and the readers' products see a computed
//   matrix, so a quantized W is dequantized to fp32 on every run.
//
// `auto` (the default) takes the branch wherever every reader allows it. A
// fused torch `in_proj_weight` [3D, D] gets one adapter over all of q, k and
// v either way; a quantized W is adapted as its DequantizeLinear output
// (weight-tensors.ts).
import { consumers as consumersOf, graphOf, valueInfo } from '../onnx/model.js';
import { DataType, type ModelProto, type NodeProto, onnx, type TensorProto } from '../onnx/proto.js';
import { fromTensorProto } from '../onnx/tensor.js';
import { adapterNodes } from './adapter-nodes.js';
import { branchNodes } from './branch-nodes.js';
import { initLoraA, initLoraB } from './init.js';
import { type LoraFormulation, type LoraRecord, readTrainables, withTrainables } from './metadata.js';
import { isEmptyPattern, type NamePattern } from './patterns.js';
import { Placement } from './placement.js';
import { branchProducts } from './products.js';
import { type LinearTarget, selectFullParams, selectLinearTargets } from './select.js';
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
  /**
   * How adapters enter the graph (see the top of this file): `'branch'` for
   * every target (an error where a reader is not a MatMul), `'merge'` for every
   * target, `'auto'` (default) the branch wherever every reader allows it.
   * The metadata records each adapter's formulation.
   */
  formulation?: LoraFormulation | 'auto';
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
  const f = o.formulation ?? 'auto';
  if (f !== 'auto' && f !== 'branch' && f !== 'merge') {
    throw new Error(`LoRA formulation must be 'auto', 'branch' or 'merge', got ${String(f)}`);
  }
  if (isEmptyPattern(o.targets) && isEmptyPattern(o.full)) {
    throw new Error('nothing to train: give LoRA targets, full-mode parameters, or both');
  }
}

type Choice = { kind: 'merge' } | { kind: 'branch'; products: NodeProto[] };

function chooseFormulation(
  target: LinearTarget,
  wanted: LoraFormulation | 'auto',
  uses: ReadonlyMap<string, NodeProto[]>,
): Choice {
  if (wanted === 'merge') return { kind: 'merge' };
  const found = branchProducts(target.tensor.name ?? '', uses);
  if (found.ok) return { kind: 'branch', products: found.products };
  if (wanted === 'auto') return { kind: 'merge' };
  throw new Error(`cannot add LoRA to ${target.tensor.name} as a branch: ${found.reason}`);
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

  const nodesList = graph.node ?? [];
  const position = new Map(nodesList.map((n, i) => [n, i]));
  const placement = new Placement();
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

  // Both formulations place their nodes next to nodes that already read W or
  // its products, and those depend only on graph inputs, W and the products'
  // own inputs: node order stays topological and reads naturally.
  const adapt = (target: LinearTarget, name: string): LoraRecord => {
    const choice = chooseFormulation(target, options.formulation ?? 'auto', uses);
    if (choice.kind === 'merge') {
      const { nodes, record: rec } = adapterNodes(target, options.rank, options.alpha);
      assertFresh([rec.a, rec.b, ...nodes.flatMap((n) => n.output ?? [])], taken, name);
      const first = nodesList.find((n) => (n.input ?? []).includes(name));
      if (first) placement.insertBefore(first, nodes);
      placement.redirectReads(name, rec.merged);
      return rec;
    }
    const products = [...choice.products].sort((x, y) => (position.get(x) ?? 0) - (position.get(y) ?? 0));
    const { shared, updates, record: rec } = branchNodes(target, products, options.rank, options.alpha);
    // The Adds take over the products' output names; everything else is new.
    const kept = new Set(rec.products.map((p) => p.output));
    const emitted = [...shared, ...updates.flatMap((u) => u.nodes)].flatMap((n) => n.output ?? []);
    assertFresh(
      [rec.a, rec.b, ...updates.map((u) => u.frozen), ...emitted.filter((o) => !kept.has(o))],
      taken,
      name,
    );
    products.forEach((mm, i) => {
      placement.renameOutput(mm, updates[i].frozen);
      placement.insertAfter(mm, i === 0 ? [...shared, ...updates[i].nodes] : updates[i].nodes);
    });
    return rec;
  };

  // One pass in initializer order keeps the adapter list deterministic.
  for (const tensor of weightTensors(graph, uses)) {
    const name = tensor.name ?? '';
    const target = targetByName.get(name);
    if (target) {
      const rec = adapt(target, name);
      records.push(rec);
      const { a, b } = rec;
      const { inDim, outDim } = target.use;
      addInput(
        { name: a, shape: [options.rank, inDim], base: name, role: 'lora_A' },
        initLoraA(options.seed, name, options.rank, inDim),
      );
      addInput(
        { name: b, shape: [outDim, options.rank], base: name, role: 'lora_B' },
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

  const node: NodeProto[] = placement.apply(nodesList);

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
