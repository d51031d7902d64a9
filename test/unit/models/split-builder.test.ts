import { describe, expect, it } from 'vitest';
import { parameterCount } from '../../../models/graph/params.js';
import { graphOf } from '../../../models/onnx/index.js';
import { type Cut, cutId, locateBlocks, parseCut, splitModel } from '../../../models/split/index.js';
import { blockOut, buildVit, EMBED_OUT, REFERENCE_VIT } from '../../../models/vit/index.js';
import { maxAbsDiff, pixels, run } from './helpers.js';

describe('splitting the builder ViT', () => {
  const model = buildVit(REFERENCE_VIT);
  const feeds = { pixels: pixels([3, 1, 28, 28]) };
  const cuts: Cut[] = [
    { kind: 'embed' },
    ...Array.from({ length: REFERENCE_VIT.depth }, (_, index) => ({ kind: 'block' as const, index })),
  ];

  it('locates every block by scope with the named boundary tensors', () => {
    const blocks = locateBlocks(graphOf(model));
    expect(blocks.map((b) => [b.scope, b.input, b.output])).toEqual(
      Array.from({ length: REFERENCE_VIT.depth }, (_, i) => [
        `/blocks/${i}/`,
        i === 0 ? EMBED_OUT : blockOut(i - 1),
        blockOut(i),
      ]),
    );
  });

  it.each(cuts.map((c) => [cutId(c), c] as const))(
    'head then tail at %s reproduces the full logits',
    async (_, cut) => {
      const full = (await run(model, feeds)).logits.data as Float32Array;
      const split = await splitModel(model, cut);
      expect(split.boundary.name).toBe(
        cut.kind === 'embed' ? EMBED_OUT : blockOut((cut as { index: number }).index),
      );
      expect(split.boundary.dims).toEqual(['batch', 17, 64]);
      const boundary = (await run(split.head, feeds))[split.boundary.name];
      const logits = (await run(split.tail, { [split.boundary.name]: boundary })).logits.data as Float32Array;
      expect(maxAbsDiff(logits, full)).toBeLessThan(1e-5);
      expect(parameterCount(graphOf(split.head)) + parameterCount(graphOf(split.tail))).toBe(
        parameterCount(graphOf(model)),
      );
    },
  );

  it('parses cut ids and reports bad ones', async () => {
    expect(parseCut('embed')).toEqual({ kind: 'embed' });
    expect(parseCut('block:3')).toEqual({ kind: 'block', index: 3 });
    expect(parseCut('block3')).toEqual({ kind: 'block', index: 3 });
    expect(parseCut('tensor:a:b')).toEqual({ kind: 'tensor', name: 'a:b' });
    expect(() => parseCut('blocks')).toThrow(/invalid cut/);
    await expect(splitModel(model, { kind: 'block', index: 4 })).rejects.toThrow(/blocks 0\.\.3/);
    await expect(splitModel(model, { kind: 'tensor', name: 'blocks.9.out' })).rejects.toThrow(
      /does not exist/,
    );
  });
});
