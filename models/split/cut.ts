// Where to split a model, and how a cut is named in manifests and on the CLI.
import { knownTensors } from '../graph/analysis.js';
import type { GraphProto } from '../onnx/proto.js';
import { type Block, locateBlocks } from './blocks.js';

export type Cut = { kind: 'tensor'; name: string } | { kind: 'embed' } | { kind: 'block'; index: number };

/** The stable id stored in manifests: `embed`, `block<k>` or `tensor:<name>`. */
export function cutId(cut: Cut): string {
  switch (cut.kind) {
    case 'embed':
      return 'embed';
    case 'block':
      return `block${cut.index}`;
    case 'tensor':
      return `tensor:${cut.name}`;
  }
}

/** Parses `embed`, `block:<k>` (or `block<k>`) and `tensor:<name>`. */
export function parseCut(text: string): Cut {
  if (text === 'embed') return { kind: 'embed' };
  const block = /^block:?(\d+)$/.exec(text);
  if (block) return { kind: 'block', index: Number(block[1]) };
  if (text.startsWith('tensor:') && text.length > 'tensor:'.length) {
    return { kind: 'tensor', name: text.slice('tensor:'.length) };
  }
  throw new Error(`invalid cut "${text}": expected embed, block:<k> or tensor:<name>`);
}

/** The name of the tensor a cut refers to in `graph`. */
export function resolveCut(graph: GraphProto, cut: Cut, blocks?: Block[]): string {
  if (cut.kind === 'tensor') {
    if (!knownTensors(graph).has(cut.name))
      throw new Error(`cut tensor "${cut.name}" does not exist in the graph`);
    return cut.name;
  }
  const found = blocks ?? locateBlocks(graph);
  if (found.length === 0) {
    throw new Error(
      `cannot cut at ${cutId(cut)}: no encoder blocks recognised in the graph; cut at tensor:<name>`,
    );
  }
  if (cut.kind === 'embed') return found[0].input;
  const block = found.find((b) => b.index === cut.index);
  if (!block) {
    throw new Error(
      `cannot cut at block ${cut.index}: the model has blocks ${found[0].index}..${found[found.length - 1].index}`,
    );
  }
  return block.output;
}
