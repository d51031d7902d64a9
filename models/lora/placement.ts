// Edits to a node list collected per original node and applied in one pass:
// new nodes go right before or after the node they belong to, so the result
// stays in topological order without a sort, and untouched nodes are reused.
import { type NodeProto, onnx } from '../onnx/proto.js';

export class Placement {
  private readonly before = new Map<NodeProto, NodeProto[]>();
  private readonly after = new Map<NodeProto, NodeProto[]>();
  private readonly outputs = new Map<NodeProto, string>();
  private readonly reads = new Map<string, string>();

  insertBefore(anchor: NodeProto, nodes: readonly NodeProto[]): void {
    this.before.set(anchor, [...(this.before.get(anchor) ?? []), ...nodes]);
  }

  insertAfter(anchor: NodeProto, nodes: readonly NodeProto[]): void {
    this.after.set(anchor, [...(this.after.get(anchor) ?? []), ...nodes]);
  }

  /** `node` writes `name` as its first output instead. */
  renameOutput(node: NodeProto, name: string): void {
    this.outputs.set(node, name);
  }

  /** Every original node that read `from` reads `to` instead. */
  redirectReads(from: string, to: string): void {
    this.reads.set(from, to);
  }

  apply(nodes: readonly NodeProto[]): NodeProto[] {
    return nodes.flatMap((n) => [
      ...(this.before.get(n) ?? []),
      this.edited(n),
      ...(this.after.get(n) ?? []),
    ]);
  }

  private edited(n: NodeProto): NodeProto {
    const input = n.input ?? [];
    const output = this.outputs.get(n);
    if (output === undefined && !input.some((x) => this.reads.has(x))) return n;
    return onnx.NodeProto.create({
      ...n,
      input: input.map((x) => this.reads.get(x) ?? x),
      output: output === undefined ? n.output : [output, ...(n.output ?? []).slice(1)],
    });
  }
}
