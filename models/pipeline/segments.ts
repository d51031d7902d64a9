// Cuts a tail into consecutive segments at encoder-block boundaries, each a
// standalone model from one residual-stream tensor to the next (the last one
// to the model's outputs). The splitter does the cutting, so a segment
// carries only the nodes and initializers it needs.
import { graphOf } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { locateBlocks } from '../split/blocks.js';
import { splitModel } from '../split/splitter.js';

export interface Segment {
  model: ModelProto;
  /** Indices (in the whole model) of the encoder blocks it runs. */
  blocks: number[];
}

/** The encoder-block indices of a tail, in order. */
export function tailBlocks(tail: ModelProto): number[] {
  return locateBlocks(graphOf(tail)).map((b) => b.index);
}

/**
 * Splits `tail` into one segment per group; `groups` partitions the tail's
 * blocks into consecutive runs (see plan.ts). The last segment also runs
 * whatever follows the last block (final norm, classifier).
 */
export async function segmentTail(tail: ModelProto, groups: number[][]): Promise<Segment[]> {
  const blocks = tailBlocks(tail);
  const flat = groups.flat();
  if (flat.length !== blocks.length || flat.some((b, i) => b !== blocks[i])) {
    throw new Error(
      `shard groups [${groups.map((g) => `[${g}]`)}] do not partition the tail's blocks [${blocks}]`,
    );
  }
  const segments: Segment[] = [];
  let rest = tail;
  for (const [i, group] of groups.entries()) {
    if (group.length === 0 && groups.length > 1) throw new Error(`shard ${i} has no blocks`);
    if (i === groups.length - 1) {
      segments.push({ model: rest, blocks: group });
      break;
    }
    const split = await splitModel(rest, { kind: 'block', index: group[group.length - 1] });
    segments.push({ model: split.head, blocks: group });
    rest = split.tail;
  }
  return segments;
}
