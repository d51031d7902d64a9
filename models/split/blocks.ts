// Finds the encoder blocks of a ViT graph from node-name scopes, for graphs
// this project builds (`/blocks/3/...`) and for torch.onnx.export output
// (`/encoder/layers/encoder_layer_3/...`, Hugging Face `/encoder/layer.3/...`).
// A block's boundary is found from dataflow, not from names: its input is the
// one data tensor (the residual stream) entering the scope from outside, its
// output the one data tensor leaving it. Shape arithmetic and constants that
// exporters hoist out of the scope are ignored because they are not `data`.
import { classifyTensors, type TensorFact } from '../graph/analysis.js';
import type { GraphProto, NodeProto } from '../onnx/proto.js';

export interface Block {
  index: number;
  /** The scope prefix the block's node names share, e.g. `/blocks/2/`. */
  scope: string;
  /** The residual-stream tensor entering the block. */
  input: string;
  /** The residual-stream tensor leaving the block. */
  output: string;
  nodes: NodeProto[];
}

/** Scope patterns in priority order; the first that matches any node name wins. */
const SCOPE_PATTERNS: RegExp[] = [
  /^(.*?\/encoder_layer_(\d+)\/)/,
  /^(.*?\/blocks[./](\d+)\/)/,
  /^(.*?\/layer\.(\d+)\/)/,
  /^(.*?\/layers[./](\d+)\/)/,
];

function groupByScope(nodes: NodeProto[]): Map<number, { scope: string; nodes: NodeProto[] }> {
  for (const pattern of SCOPE_PATTERNS) {
    const groups = new Map<number, { scope: string; nodes: NodeProto[] }>();
    for (const n of nodes) {
      const m = pattern.exec(n.name ?? '');
      if (!m) continue;
      const index = Number(m[2]);
      const g = groups.get(index);
      if (g) g.nodes.push(n);
      else groups.set(index, { scope: m[1], nodes: [n] });
    }
    if (groups.size > 0) return groups;
  }
  return new Map();
}

/** The encoder blocks in index order; empty if the graph has no recognisable block scopes. */
export function locateBlocks(
  graph: GraphProto,
  facts: Map<string, TensorFact> = classifyTensors(graph),
): Block[] {
  const groups = groupByScope(graph.node ?? []);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const blocks: Block[] = [];
  for (const [index, { scope, nodes }] of [...groups].sort((a, b) => a[0] - b[0])) {
    const produced = new Set(nodes.flatMap((n) => (n.output ?? []).filter((o) => o)));
    const isData = (t: string) => facts.get(t)?.kind === 'data';
    const inputs = new Set(
      nodes.flatMap((n) => (n.input ?? []).filter((i) => i && !produced.has(i) && isData(i))),
    );
    const members = new Set(nodes);
    const usedOutside = new Set<string>();
    for (const n of graph.node ?? []) {
      if (members.has(n)) continue;
      for (const i of n.input ?? []) if (produced.has(i) && isData(i)) usedOutside.add(i);
    }
    for (const o of graphOutputs) if (produced.has(o) && isData(o)) usedOutside.add(o);
    if (inputs.size !== 1 || usedOutside.size !== 1) {
      throw new Error(
        `block ${index} (${scope}): expected one residual-stream tensor in and one out, ` +
          `found in [${[...inputs].join(', ')}] and out [${[...usedOutside].join(', ')}]`,
      );
    }
    blocks.push({ index, scope, input: [...inputs][0], output: [...usedOutside][0], nodes });
  }
  return blocks;
}
