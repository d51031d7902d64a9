// Final layout of a generated training graph's node list.
//
// onnxruntime does not run nodes in file order. Its default order is a
// depth-first walk back from the graph's leaves (nodes nothing reads), taking
// the leaf with the highest index first and emitting everything it depends on
// before it. In a backward graph the leaves are the nodes that write the
// gradient outputs (weight and bias gradients), so with leaves in emission
// order the runtime first walks from the last one (the patch embedding's),
// which pulls in the whole input-gradient chain, and only then runs every
// weight gradient, each reading an activation and an output gradient that
// have long left the cache and kept memory alive all the while. Putting the
// leaves last in reverse emission order makes the walk follow the reverse
// sweep instead: each weight gradient runs right after its output gradient.
import type { NodeProto, onnx } from '../onnx/index.js';

/**
 * Drops the nodes no graph output depends on, writes each gradient output
 * from its producer instead of through an Identity, and orders the leaves as
 * described above. `forward` keeps its order and stays first.
 */
export function layoutNodes(
  forward: NodeProto[],
  backward: NodeProto[],
  outputs: readonly onnx.IValueInfoProto[],
  reads: (node: NodeProto) => string[],
): NodeProto[] {
  const outputNames = new Set(outputs.map((o) => o.name ?? ''));
  const all = live([...forward, ...backward], outputNames, reads);
  const isForward = new Set(forward);
  const kept = all.filter((n) => !isForward.has(n));
  const front = all.filter((n) => isForward.has(n));

  const readers = new Map<string, number>();
  for (const n of all) for (const i of reads(n)) readers.set(i, (readers.get(i) ?? 0) + 1);
  const producer = new Map<string, NodeProto>();
  for (const n of kept) for (const o of n.output ?? []) if (o) producer.set(o, n);

  const dropped = new Set<NodeProto>();
  for (const n of kept) {
    if (n.opType !== 'Identity') continue;
    const from = n.input?.[0] ?? '';
    const p = producer.get(from);
    if (!p || readers.get(from) !== 1 || outputNames.has(from)) continue;
    p.output = (p.output ?? []).map((o) => (o === from ? n.output![0] : o));
    dropped.add(n);
  }
  const body = kept.filter((n) => !dropped.has(n));
  const isLeaf = (n: NodeProto) => (n.output ?? []).every((o) => !readers.get(o));
  const leaves = body.filter(isLeaf);
  return [...front, ...body.filter((n) => !isLeaf(n)), ...leaves.reverse()];
}

/** The nodes some graph output depends on, in their given order. */
function live(nodes: NodeProto[], outputs: Set<string>, reads: (node: NodeProto) => string[]): NodeProto[] {
  const needed = new Set(outputs);
  const keep: NodeProto[] = [];
  for (const n of [...nodes].reverse()) {
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const i of reads(n)) needed.add(i);
  }
  return keep.reverse();
}
