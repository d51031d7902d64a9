// Dataflow facts about an ONNX graph that the splitter and the block locator
// need: which tensors are constants, which only carry shape information, and
// which carry data derived from the graph inputs.
import { realInputs } from '../onnx/model.js';
import type { GraphProto, NodeProto } from '../onnx/proto.js';

/**
 * - `static`: computable from initializers and Constant nodes alone.
 * - `shape`: depends on the graph inputs only through Shape nodes (batch-size
 *   arithmetic and the like); `sources` names the tensors whose shapes it reads.
 * - `data`: depends on the values of a graph input.
 */
export type TensorKind = 'static' | 'shape' | 'data';

export interface TensorFact {
  kind: TensorKind;
  /** For `shape` tensors: the non-static tensors whose Shape feeds this one. */
  sources: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();
const rank: Record<TensorKind, number> = { static: 0, shape: 1, data: 2 };

/** Classifies every tensor of the graph. Assumes node order is topological, as ONNX requires. */
export function classifyTensors(graph: GraphProto): Map<string, TensorFact> {
  const facts = new Map<string, TensorFact>();
  for (const t of graph.initializer ?? []) facts.set(t.name ?? '', { kind: 'static', sources: NONE });
  for (const i of realInputs(graph)) facts.set(i.name ?? '', { kind: 'data', sources: NONE });
  for (const node of graph.node ?? []) {
    const fact = nodeFact(node, facts);
    for (const o of node.output ?? []) if (o) facts.set(o, fact);
  }
  return facts;
}

function nodeFact(node: NodeProto, facts: Map<string, TensorFact>): TensorFact {
  const ins = (node.input ?? []).filter((i) => i);
  if (node.opType === 'Shape') {
    const src = ins[0];
    const f = facts.get(src);
    if (!f || f.kind === 'static') return { kind: 'static', sources: NONE };
    if (f.kind === 'shape') return f;
    return { kind: 'shape', sources: new Set([src]) };
  }
  let kind: TensorKind = 'static';
  const sources = new Set<string>();
  for (const i of ins) {
    const f = facts.get(i);
    if (!f) throw new Error(`${node.opType} ${node.name}: input ${i} is not produced before use`);
    if (rank[f.kind] > rank[kind]) kind = f.kind;
    for (const s of f.sources) sources.add(s);
  }
  return { kind, sources: kind === 'shape' ? sources : NONE };
}

/**
 * Nodes needed to compute `targets`, walking back from them and stopping at
 * `stops` (tensors treated as given). Returned in graph order.
 */
export function backwardSlice(
  graph: GraphProto,
  targets: Iterable<string>,
  stops: ReadonlySet<string>,
): NodeProto[] {
  const nodes = graph.node ?? [];
  const producerIndex = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producerIndex.set(o, i);
  });
  const keep = new Set<number>();
  const stack = [...targets].filter((t) => !stops.has(t));
  const seen = new Set(stack);
  while (stack.length > 0) {
    const t = stack.pop() as string;
    const idx = producerIndex.get(t);
    if (idx === undefined || keep.has(idx)) continue;
    keep.add(idx);
    for (const i of nodes[idx].input ?? []) {
      if (i && !stops.has(i) && !seen.has(i)) {
        seen.add(i);
        stack.push(i);
      }
    }
  }
  return nodes.filter((_, i) => keep.has(i));
}

/** Tensors that transitively depend on `root` (including `root`). */
export function forwardClosure(graph: GraphProto, root: string): Set<string> {
  const reached = new Set([root]);
  for (const node of graph.node ?? []) {
    if ((node.input ?? []).some((i) => i && reached.has(i))) {
      for (const o of node.output ?? []) if (o) reached.add(o);
    }
  }
  return reached;
}

/** Every tensor name the graph mentions: inputs, initializers, node outputs. */
export function knownTensors(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const i of graph.input ?? []) names.add(i.name ?? '');
  for (const t of graph.initializer ?? []) names.add(t.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) names.add(o);
  return names;
}
