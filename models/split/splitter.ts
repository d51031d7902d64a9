// Splits a model at one tensor into a head (model inputs → cut) and a tail
// (cut → model outputs), each a standalone ONNX model with only the nodes and
// initializers it needs.
import { backwardSlice, classifyTensors, forwardClosure, knownTensors } from '../graph/analysis.js';
import { extractModel } from '../graph/extract.js';
import { graphOf, realInputs, valueInfo } from '../onnx/model.js';
import { type ModelProto, type NodeProto, onnx } from '../onnx/proto.js';
import { rebuildInputShapes } from './batch-shape.js';
import { type Cut, cutId, resolveCut } from './cut.js';
import { type ProbedTensor, probeOutputs } from './probe.js';

/** How the tail obtains a head-side tensor other than the cut. */
export interface Crossing {
  tensor: string;
  /**
   * `copied`: computed from constants only; its nodes are duplicated into the tail.
   * `batch`: derived from the shape of a model input; rebuilt from the cut's batch size.
   */
  handling: 'copied' | 'batch';
}

export interface SplitModels {
  head: ModelProto;
  tail: ModelProto;
  cutId: string;
  /** The boundary tensor: name, element type, dims with 'batch' for the batch axis. */
  boundary: ProbedTensor;
  crossings: Crossing[];
}

/** Finds the tensor, splits, and probes the boundary's shape by running the head (see probe.ts). */
export async function splitModel(model: ModelProto, cut: Cut): Promise<SplitModels> {
  const graph = graphOf(model);
  const facts = classifyTensors(graph);
  const cutName = resolveCut(graph, cut);
  const inputs = realInputs(graph);
  const outputs = graph.output ?? [];
  if (inputs.some((i) => i.name === cutName)) throw new Error(`cut tensor ${cutName} is a model input`);
  if (outputs.some((o) => o.name === cutName)) throw new Error(`cut tensor ${cutName} is a model output`);
  const kind = facts.get(cutName)?.kind;
  if (kind !== 'data') {
    const what = kind === 'static' ? 'computed from constants only' : 'shape arithmetic';
    throw new Error(`cut tensor ${cutName} does not carry activations: it is ${what}`);
  }
  // Plan the tail first so an unsplittable cut fails before the head is run.
  const plan = planTail(graph, cutName, facts);

  const headNodes = backwardSlice(graph, [cutName], new Set());
  const headName = `${graph.name || 'model'}_head`;
  const untyped = onnx.ValueInfoProto.create({ name: cutName });
  const draft = extractModel(model, { name: headName, nodes: headNodes, inputs, outputs: [untyped] });
  const [boundary] = await probeOutputs(draft);
  const cutInfo = valueInfo(cutName, boundary.elemType, boundary.dims);
  const head = extractModel(model, { name: headName, nodes: headNodes, inputs, outputs: [cutInfo] });

  const tail = extractModel(model, {
    name: `${graph.name || 'model'}_tail`,
    nodes: finishTail(graph, cutName, boundary, plan.nodes),
    inputs: [cutInfo],
    outputs,
  });
  return { head, tail, cutId: cutId(cut), boundary, crossings: plan.crossings };
}

type Graph = ReturnType<typeof graphOf>;

/**
 * The tail's nodes as they stand in the original graph, and the head-side
 * tensors besides the cut that they need; throws if one cannot be supplied.
 */
function planTail(
  graph: Graph,
  cutName: string,
  facts: ReturnType<typeof classifyTensors>,
): { nodes: NodeProto[]; crossings: Crossing[] } {
  const inputNames = new Set(realInputs(graph).map((i) => i.name ?? ''));
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const outputNames = (graph.output ?? []).map((o) => o.name ?? '');
  const sliced = backwardSlice(graph, outputNames, new Set([cutName]));
  const dependent = forwardClosure(graph, cutName);

  // Tensors the cut-dependent part of the tail reads that the head computes.
  const needed = new Set<string>();
  for (const n of sliced) {
    if (!(n.output ?? []).some((o) => dependent.has(o))) continue;
    for (const i of n.input ?? []) if (i && !dependent.has(i) && !initializers.has(i)) needed.add(i);
  }
  for (const o of outputNames) if (!dependent.has(o)) needed.add(o);

  // Constants the head never computes are simply part of the tail's slice;
  // only report the ones the head computes too.
  const headSide = new Set(backwardSlice(graph, [cutName], new Set()).flatMap((n) => n.output ?? []));
  const crossings: Crossing[] = [];
  for (const t of needed) {
    const fact = facts.get(t);
    if (fact?.kind === 'static') {
      if (headSide.has(t)) crossings.push({ tensor: t, handling: 'copied' });
      continue;
    }
    const foreign = fact ? [...fact.sources].filter((s) => !inputNames.has(s)) : [];
    if (fact?.kind === 'shape' && foreign.length === 0) {
      crossings.push({ tensor: t, handling: 'batch' });
      continue;
    }
    const why =
      fact?.kind === 'shape'
        ? `it depends on the shape of head tensor(s) ${foreign.join(', ')}`
        : 'it depends on the values of the model input';
    throw new Error(
      `cannot split at ${cutName}: the tail needs head tensor ${t} besides the cut, and ${why}; ` +
        'cut where one tensor carries everything forward (e.g. a block boundary)',
    );
  }

  return { nodes: sliced, crossings };
}

/** Rewires the tail's reads of input shapes to the cut (batch-shape.ts) and checks it is self-contained. */
function finishTail(graph: Graph, cutName: string, boundary: ProbedTensor, sliced: NodeProto[]): NodeProto[] {
  const taken = knownTensors(graph);
  for (const n of graph.node ?? []) taken.add(n.name ?? '');
  const { nodes } = rebuildInputShapes(sliced, {
    cut: cutName,
    cutLeadsWithBatch: boundary.atBatch1[0] === 1 && boundary.atBatch2[0] === 2,
    inputs: realInputs(graph),
    taken,
  });
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  assertClosed(nodes, cutName, initializers);
  return nodes;
}

/** Every tensor a tail node reads must be the cut, an initializer or produced in the tail. */
function assertClosed(nodes: NodeProto[], cutName: string, initializers: Set<string>): void {
  const available = new Set([cutName, ...initializers]);
  for (const n of nodes) {
    for (const i of n.input ?? []) {
      if (i && !available.has(i))
        throw new Error(`internal: tail node ${n.name} reads ${i}, which the tail lacks`);
    }
    for (const o of n.output ?? []) if (o) available.add(o);
  }
}
