import type * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parameterCount } from '../../../models/graph/params.js';
import { graphOf, type ModelProto, realInputs, shapeOf } from '../../../models/onnx/index.js';
import { type Cut, locateBlocks, parseCut, splitModel } from '../../../models/split/index.js';
import { loadTorchvision, maxAbsDiff, run, TV_MODELS, toOrt, torchvisionReference } from './helpers.js';

async function headThenTail(model: ModelProto, cut: Cut, feeds: Record<string, ort.Tensor>) {
  const split = await splitModel(model, cut);
  const boundary = (await run(split.head, feeds))[split.boundary.name];
  const logits = (await run(split.tail, { [split.boundary.name]: boundary })).logits;
  return { split, logits: logits.data as Float32Array };
}

describe.each(TV_MODELS)('splitting torchvision export %s', (file) => {
  let model: ModelProto;
  let feeds: Record<string, ort.Tensor>;
  let full: Float32Array;

  beforeAll(async () => {
    model = await loadTorchvision(file);
    const ref = await torchvisionReference();
    feeds = { pixel_values: toOrt(ref.get('input.pixel_values') as NonNullable<ReturnType<typeof ref.get>>) };
    full = (await run(model, feeds)).logits.data as Float32Array;
    // Sanity: onnxruntime reproduces PyTorch.
    expect(maxAbsDiff(full, ref.get('output.logits')?.data as Float32Array)).toBeLessThan(1e-5);
  });

  it('finds both encoder blocks and their residual-stream boundaries', () => {
    const blocks = locateBlocks(graphOf(model));
    expect(blocks.map((b) => [b.index, b.scope, b.input, b.output])).toEqual([
      [
        0,
        '/encoder/layers/encoder_layer_0/',
        '/encoder/Add_output_0',
        '/encoder/layers/encoder_layer_0/Add_1_output_0',
      ],
      [
        1,
        '/encoder/layers/encoder_layer_1/',
        '/encoder/layers/encoder_layer_0/Add_1_output_0',
        '/encoder/layers/encoder_layer_1/Add_1_output_0',
      ],
    ]);
  });

  it.each(['embed', 'block:0', 'block:1'])(
    'head then tail at %s reproduces the full logits',
    async (text) => {
      const { split, logits } = await headThenTail(model, parseCut(text), feeds);
      expect(maxAbsDiff(logits, full)).toBeLessThan(1e-5);
      expect(split.boundary.dims).toEqual(['batch', 17, 32]);
      const head = graphOf(split.head);
      const tail = graphOf(split.tail);
      expect(realInputs(head).map((i) => i.name)).toEqual(['pixel_values']);
      expect(head.output?.map((o) => [o.name, shapeOf(o)])).toEqual([
        [split.boundary.name, ['batch', 17, 32]],
      ]);
      expect(tail.input?.map((i) => [i.name, shapeOf(i)])).toEqual([
        [split.boundary.name, ['batch', 17, 32]],
      ]);
      expect(tail.output?.map((o) => o.name)).toEqual(['logits']);
      expect(split.head.opsetImport).toEqual(model.opsetImport);
      expect(parameterCount(head) + parameterCount(tail)).toBe(parameterCount(graphOf(model)));
      expect(split.crossings.every((c) => c.handling === 'copied')).toBe(true);
    },
  );

  it('splits at the patch tokens before the cls-token concat', async () => {
    const { split, logits } = await headThenTail(
      model,
      { kind: 'tensor', name: '/Transpose_output_0' },
      feeds,
    );
    expect(maxAbsDiff(logits, full)).toBeLessThan(1e-5);
    expect(split.boundary.dims).toEqual(['batch', 16, 32]);
  });

  it('rebuilds the batch size the tail takes from Shape(pixel_values) when cutting at the conv output', async () => {
    const { split, logits } = await headThenTail(
      model,
      { kind: 'tensor', name: '/conv_proj/Conv_output_0' },
      feeds,
    );
    expect(maxAbsDiff(logits, full)).toBeLessThan(1e-5);
    expect(split.crossings.filter((c) => c.handling === 'batch').map((c) => c.tensor)).toEqual([
      '/Concat_output_0',
    ]);
    const tail = graphOf(split.tail);
    expect(tail.node?.some((n) => n.input?.includes('pixel_values'))).toBe(false);
    expect(tail.input?.map((i) => i.name)).toEqual(['/conv_proj/Conv_output_0']);
  });

  it('refuses a cut the residual stream bypasses, naming the crossing tensor', async () => {
    const inside = (graphOf(model).node ?? []).find((n) =>
      n.name?.startsWith('/encoder/layers/encoder_layer_0/ln_1/'),
    );
    const name = inside?.output?.[0] ?? '';
    await expect(splitModel(model, { kind: 'tensor', name })).rejects.toThrow(/\/encoder\/Add_output_0/);
  });

  it('gives clear errors for unknown tensors, out-of-range blocks and shape-only tensors', async () => {
    await expect(splitModel(model, { kind: 'tensor', name: 'nope' })).rejects.toThrow(
      /"nope" does not exist/,
    );
    await expect(splitModel(model, { kind: 'block', index: 2 })).rejects.toThrow(/block 2.*blocks 0\.\.1/);
    await expect(splitModel(model, { kind: 'tensor', name: '/Shape_output_0' })).rejects.toThrow(
      /does not carry activations/,
    );
    await expect(splitModel(model, { kind: 'tensor', name: 'logits' })).rejects.toThrow(/model output/);
  });
});
