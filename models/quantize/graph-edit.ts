// Small in-place edits of an ONNX graph for the weight rewrites: fresh names,
// who reads a tensor (including graph outputs and subgraphs, which a rewrite
// must not orphan), and node/initializer insertion and removal.
import type { GraphProto, NodeProto, onnx } from '../onnx/index.js';

export class GraphEditor {
  private readonly taken = new Set<string>();

  constructor(readonly graph: GraphProto) {
    const collect = (g: onnx.IGraphProto) => {
      for (const t of g.initializer ?? []) this.taken.add(t.name ?? '');
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])])
        this.taken.add(v.name ?? '');
      for (const n of g.node ?? []) {
        for (const o of n.output ?? []) this.taken.add(o);
        if (n.name) this.taken.add(n.name);
        subgraphs(n).forEach(collect);
      }
    };
    collect(graph);
  }

  /** `base`, or `base_1`, `base_2`, ... if taken; reserves the result. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  get nodes(): NodeProto[] {
    this.graph.node ??= [];
    return this.graph.node;
  }

  /** Top-level nodes that read `name` at any input position. */
  readers(name: string): NodeProto[] {
    return this.nodes.filter((n) => (n.input ?? []).includes(name));
  }

  /** Whether `name` is a graph output or read from inside a subgraph (If/Loop/Scan bodies). */
  readElsewhere(name: string): boolean {
    if ((this.graph.output ?? []).some((o) => o.name === name)) return true;
    return this.nodes.some((n) => subgraphs(n).some((g) => readsOuter(g, name)));
  }

  isRead(name: string): boolean {
    return this.readers(name).length > 0 || this.readElsewhere(name);
  }

  initializer(name: string): onnx.ITensorProto | undefined {
    return (this.graph.initializer ?? []).find((t) => t.name === name);
  }

  addInitializer(t: onnx.ITensorProto): void {
    this.graph.initializer = [...(this.graph.initializer ?? []), t];
  }

  removeInitializer(name: string): void {
    this.graph.initializer = (this.graph.initializer ?? []).filter((t) => t.name !== name);
  }

  /** Inserts nodes before `anchor` (at the front when anchor is undefined). */
  insertBefore(anchor: NodeProto | undefined, added: NodeProto[]): void {
    const at = anchor ? this.nodes.indexOf(anchor) : 0;
    if (at < 0) throw new Error(`node ${anchor?.name} is not in the graph`);
    this.nodes.splice(at, 0, ...added);
  }

  replace(node: NodeProto, replacement: NodeProto[]): void {
    const at = this.nodes.indexOf(node);
    if (at < 0) throw new Error(`node ${node.name} is not in the graph`);
    this.nodes.splice(at, 1, ...replacement);
  }

  remove(node: NodeProto): void {
    this.replace(node, []);
  }
}

export function subgraphs(node: NodeProto): onnx.IGraphProto[] {
  return (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

/** Whether a subgraph reads `name` from its enclosing scope. */
function readsOuter(g: onnx.IGraphProto, name: string): boolean {
  const local = new Set<string>([
    ...(g.input ?? []).map((i) => i.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
  ]);
  if (local.has(name)) return false;
  for (const n of g.node ?? []) {
    if ((n.input ?? []).includes(name)) return true;
    if (subgraphs(n).some((s) => readsOuter(s, name))) return true;
    if ((n.output ?? []).includes(name)) return false;
  }
  return false;
}
