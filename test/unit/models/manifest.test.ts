import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSplit } from '../../../models/split/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { Manifest } from '../../../protocol/manifest.js';
import { loadTorchvision } from './helpers.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'splitflare-manifest-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('writeSplit', () => {
  it('writes head, tail, full and a manifest that validates and matches the files', async () => {
    const outDir = await tempDir();
    const returned = await writeSplit({
      model: buildVit(REFERENCE_VIT),
      cut: { kind: 'block', index: 1 },
      outDir,
      modelId: 'vit-mnist',
      source: 'reference',
      labels: Array.from({ length: 10 }, (_, i) => String(i)),
      preprocess: { layout: 'NCHW', channels: 1, height: 28, width: 28, mean: [0.1307], std: [0.3081] },
    });
    const manifest = Manifest.parse(JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')));
    expect(manifest).toEqual(returned);
    expect((await readdir(outDir)).sort()).toEqual([
      'full.onnx',
      'head.onnx',
      'manifest.json',
      'shard0_forward.onnx',
      'tail.onnx',
    ]);
    // The tail is small enough for one shard, which runs the whole tail.
    expect(manifest.pipeline.shards).toHaveLength(1);
    expect(manifest.pipeline.shards[0]).toMatchObject({ blocks: [2, 3], trainables: [] });
    expect(manifest.pipeline.shards[0].forward.parameters).toBe(manifest.artifacts.tail?.parameters);
    for (const a of [
      manifest.artifacts.head,
      manifest.artifacts.tail,
      manifest.artifacts.full,
      manifest.pipeline.shards[0].forward,
    ]) {
      if (!a) throw new Error('missing artifact');
      const bytes = await readFile(join(outDir, a.file));
      expect(a.bytes).toBe(bytes.byteLength);
      expect(a.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    const { head, tail, full } = manifest.artifacts;
    expect(head.parameters + (tail?.parameters ?? 0)).toBe(full?.parameters);
    expect(manifest.opset).toBe(17);
    expect(manifest.cut).toEqual({
      id: 'block1',
      tensor: { name: 'blocks.1.out', dtype: 'float32', shape: ['batch', 17, 64] },
    });
    expect(manifest.input).toEqual({ name: 'pixels', dtype: 'float32', shape: ['batch', 1, 28, 28] });
    expect(manifest.output).toEqual({ name: 'logits', dtype: 'float32', shape: ['batch', 10] });
    expect(manifest.wire).toEqual({
      encodings: ['fp32', 'fp16', 'int8', 'int4', 'int2'],
      granularities: ['tensor', 'token'],
      maxBatch: 256,
    });
  });

  it('describes a torchvision split by tensor name, without full.onnx when asked', async () => {
    const outDir = await tempDir();
    const manifest = await writeSplit({
      model: await loadTorchvision('tv_vit_tiny_op14.onnx'),
      cut: { kind: 'tensor', name: '/conv_proj/Conv_output_0' },
      outDir,
      modelId: 'tv-vit-tiny',
      source: 'tv_vit_tiny_op14.onnx',
      full: false,
      wire: { maxBatch: 8 },
    });
    expect(manifest.cut.id).toBe('tensor:/conv_proj/Conv_output_0');
    expect(manifest.cut.tensor.shape).toEqual(['batch', 32, 4, 4]);
    expect(manifest.opset).toBe(14);
    expect(manifest.wire.maxBatch).toBe(8);
    expect(manifest.artifacts.full).toBeUndefined();
    expect(manifest.artifacts.head.parameters + (manifest.artifacts.tail?.parameters ?? 0)).toBe(24_234);
    expect((await readdir(outDir)).sort()).toEqual([
      'head.onnx',
      'manifest.json',
      'shard0_forward.onnx',
      'tail.onnx',
    ]);
  });

  it('rejects an invalid model id before writing anything', async () => {
    const outDir = join(await tempDir(), 'never');
    await expect(
      writeSplit({
        model: buildVit(REFERENCE_VIT),
        cut: { kind: 'embed' },
        outDir,
        modelId: 'Bad Id',
        source: '',
      }),
    ).rejects.toThrow();
    await expect(readdir(outDir)).rejects.toThrow(/ENOENT/);
  });
});
