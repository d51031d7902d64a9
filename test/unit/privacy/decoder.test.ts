// The learned attack's decoder: built by the project's builder, differentiated
// by its autodiff, and trained on public activations until it reconstructs
// better than it started; it keeps the parameters of its best epoch.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadFashionMnist, trainTestSplit } from '../../../datasets/index.js';
import type { Manifest } from '../../../protocol/manifest.js';
import { trainDecoder } from '../../../scripts/privacy/decoder.js';
import { loadHead, uplink } from '../../../scripts/privacy/uplink.js';

describe('the learned decoder', () => {
  it('learns to invert the vit-fashion uplink from public images', async () => {
    const dir = 'artifacts/vit-fashion';
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as Manifest;
    const head = await loadHead(dir, manifest);
    const ds = await loadFashionMnist();
    const idx = trainTestSplit(ds, { seed: 0 }).train.subarray(0, 400);
    const size = 28 * 28;
    const x = new Float32Array(idx.length * size);
    idx.forEach((i, k) => {
      x.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    });
    const activations = await uplink(head, manifest, x, idx.length, 'int8');
    await head.release();
    const losses: number[] = [];
    const decoder = await trainDecoder(
      { tokens: 17, prefixTokens: 1, width: 64, channels: 1, patch: 7, grid: 4, hidden: 32, convChannels: 4 },
      {
        activations,
        pixels: x,
        n: idx.length,
        validation: 0.25,
        maxEpochs: 4,
        patience: 4,
        batch: 32,
        lr: 3e-3,
        seed: 1,
        onEpoch: ({ validation }) => losses.push(validation),
      },
    );
    expect(losses).toHaveLength(4);
    expect(decoder.validationLoss).toBe(Math.min(...losses));
    // Normalized pixels have unit-ish variance: an untrained decoder is near 1.
    expect(decoder.validationLoss).toBeLessThan(0.5);
    const out = await decoder.decode(activations.subarray(0, 2 * 17 * 64), 2);
    expect(out).toHaveLength(2 * size);
    await decoder.release();
  });
});
