// Quantized frozen weights on a real exporter's graph: torchvision's ViT-B/16
// (torch.onnx.export, seeded weights; models/scripts/export_torchvision_vit.py)
// with int8 and int4 block-wise weights against fp32, logits compared on
// MNIST digits resized to 224×224 RGB, on onnxruntime-web. Needs Debian's
// python3-torch and python3-torchvision at /usr/bin/python3; without them the
// figures are reported as skipped, with the reason.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchIndices, batchOf, loadMnist, resizeBatch, trainTestSplit } from '../datasets/index.js';
import { graphOf, loadModel, realInputs } from '../models/onnx/index.js';
import { compareOutputs, type Feeds, type OutputAgreement } from '../models/quantize/agreement.js';
import { quantizeWeights } from '../models/quantize/index.js';
import { round } from '../scripts/lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = '/usr/bin/python3';

export type TorchvisionFigures =
  | { model: string; samples: number; int8: Summary; int4: Summary }
  | { skipped: string };

interface Summary {
  cosine_min: number;
  cosine_mean: number;
  top1_agreement: number;
}

const summary = (a: OutputAgreement): Summary => ({
  cosine_min: round(a.cosine_min, 6),
  cosine_mean: round(a.cosine_mean, 6),
  top1_agreement: round(a.top1_agreement, 4),
});

export async function benchTorchvision(log: (s: string) => void, samples = 16): Promise<TorchvisionFigures> {
  const dir = join(ROOT, 'artifacts', 'bench-large');
  const file = join(dir, 'tv_vit_b_16.onnx');
  if (!existsSync(file)) {
    try {
      execFileSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    } catch {
      return {
        skipped: `${PYTHON} has no torch/torchvision (Debian: apt-get install python3-torch python3-torchvision)`,
      };
    }
    await mkdir(dir, { recursive: true });
    log('torchvision: exporting vit_b_16 (seeded weights) with torch.onnx.export...');
    execFileSync(
      PYTHON,
      [
        join(ROOT, 'models/scripts/export_torchvision_vit.py'),
        '--arch',
        'vit_b_16',
        '--classes',
        '10',
        '-o',
        file,
      ],
      { stdio: 'ignore' },
    );
  }
  const fp32 = await loadModel(file);
  const input = realInputs(graphOf(fp32))[0].name ?? '';
  const mnist = await loadMnist();
  const picked = trainTestSplit(mnist, { seed: 0 }).test.subarray(0, samples);
  function* batches(): Generator<Feeds> {
    for (const idx of batchIndices(picked, 8)) {
      const b = resizeBatch(batchOf(mnist, idx), { channels: 3, height: 224, width: 224 });
      yield { [input]: { dtype: 'float32', dims: b.shape, data: b.pixels } };
    }
  }
  const out: Record<string, Summary> = {};
  for (const bits of [8, 4] as const) {
    log(`torchvision: int${bits} weights against fp32...`);
    out[`int${bits}`] = summary(await compareOutputs(fp32, quantizeWeights(fp32, { bits }).model, batches()));
  }
  return {
    model: 'torchvision vit_b_16 (torch.onnx.export, opset 17, seeded weights)',
    samples,
    int8: out.int8,
    int4: out.int4,
  };
}
