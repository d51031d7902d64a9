// The analytic uplink attack and the leakage metrics: the probe recovers an
// affine head's map exactly and refuses a non-affine one; inversion is exact
// for an exact activation; on the built vit-fashion head (patch embedding
// cut) the fp32 uplink gives the images back and int8 nearly so.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { denormalize, loadFashionMnist, trainTestSplit } from '../../../datasets/index.js';
import type { Manifest } from '../../../protocol/manifest.js';
import { type HeadFn, leastSquaresInverter, probeAffine } from '../../../scripts/privacy/analytic.js';
import { leakage, psnr, ssimOf } from '../../../scripts/privacy/metrics.js';
import { loadHead, uplink } from '../../../scripts/privacy/uplink.js';

/** A head y = act(W·x + b) over `inputs` values to `outputs`. */
function denseHead(inputs: number, outputs: number, act: (v: number) => number = (v) => v) {
  const random = mulberry32(4);
  const w = Float64Array.from({ length: inputs * outputs }, () => random() - 0.5);
  const b = Float64Array.from({ length: outputs }, () => random() - 0.5);
  const run: HeadFn = async (x, n) => {
    const out = new Float32Array(n * outputs);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < outputs; j++) {
        let s = b[j];
        for (let i = 0; i < inputs; i++) s += w[j * inputs + i] * x[k * inputs + i];
        out[k * outputs + j] = act(s);
      }
    }
    return out;
  };
  return { run, w, b };
}

describe('the analytic inversion', () => {
  it('probes an affine head exactly and inverts its activations', async () => {
    const { run, w, b } = denseHead(20, 50);
    const affine = (await probeAffine(run, 20))!;
    expect(affine).not.toBeNull();
    for (let j = 0; j < 50; j++) {
      expect(affine.b[j]).toBeCloseTo(b[j], 5);
      for (let i = 0; i < 20; i++) expect(affine.a.get(j, i)).toBeCloseTo(w[j * 20 + i], 5);
    }
    const random = mulberry32(9);
    const x = Float32Array.from({ length: 3 * 20 }, () => random() * 2 - 1);
    const recovered = leastSquaresInverter(affine).invert(await run(x, 3), 3);
    for (let i = 0; i < x.length; i++) expect(recovered[i]).toBeCloseTo(x[i], 4);
  });

  it('says a head that is not affine is not', async () => {
    const { run } = denseHead(20, 50, (v) => Math.max(0, v));
    expect(await probeAffine(run, 20)).toBeNull();
  });

  it('recovers held-out images from the vit-fashion uplink: exactly at fp32, near-perfectly at int8', async () => {
    const dir = 'artifacts/vit-fashion';
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as Manifest;
    const head = await loadHead(dir, manifest);
    const ds = await loadFashionMnist();
    const idx = trainTestSplit(ds, { seed: 0 }).test.subarray(0, 20);
    const size = 28 * 28;
    const x = new Float32Array(idx.length * size);
    idx.forEach((i, k) => {
      x.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    });
    const pixels = denormalize(x, 1, size, ds.normalization);
    const inverter = leastSquaresInverter((await probeAffine(head.run, size))!);
    const attack = async (encoding: 'fp32' | 'int8' | 'int2') => {
      const got = await uplink(head, manifest, x, idx.length, encoding);
      const recovered = denormalize(inverter.invert(got, idx.length), 1, size, ds.normalization).map((v) =>
        Math.min(1, Math.max(0, v)),
      );
      return leakage(pixels, recovered, 28, 28);
    };
    const fp32 = await attack('fp32');
    const int8 = await attack('int8');
    const int2 = await attack('int2');
    await head.release();
    expect(fp32.psnr_db).toBeGreaterThan(80);
    expect(fp32.ssim).toBeGreaterThan(0.999);
    expect(int8.psnr_db).toBeGreaterThan(28);
    expect(int8.ssim).toBeGreaterThan(0.85);
    expect(int2.psnr_db).toBeLessThan(int8.psnr_db - 15);
  });
});

describe('leakage metrics', () => {
  it('PSNR from the mean squared error on [0, 1] pixels, capped for identical images', () => {
    const a = new Float32Array(100).fill(0.5);
    expect(psnr(a, a)).toBe(200);
    const b = a.map((v) => v + 0.1);
    expect(psnr(a, b)).toBeCloseTo(20, 4);
  });

  it('SSIM is 1 for identical images and low for a structure-destroying change', () => {
    const random = mulberry32(3);
    const img = Float32Array.from(
      { length: 28 * 28 },
      (_, i) => (Math.floor(i / 28) > 14 ? 0.8 : 0.1) + random() * 0.05,
    );
    expect(ssimOf(img, img, 28, 28)).toBeCloseTo(1, 6);
    expect(
      ssimOf(
        img,
        img.map((v) => 1 - v),
        28,
        28,
      ),
    ).toBeLessThan(0);
    expect(
      ssimOf(
        img,
        Float32Array.from(img, () => random()),
        28,
        28,
      ),
    ).toBeLessThan(0.3);
  });
});
