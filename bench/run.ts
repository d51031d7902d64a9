// `npm run bench [-- --json]`: speed and size figures as ratios against
// baselines measured in the same run. BENCHMARKS.md records them.
import { cpus } from 'node:os';
import { Command } from 'commander';
import { pretrainedAgreement } from '../models/quantize/agreement.js';
import { buildModels } from '../scripts/build-models.js';
import { round } from '../scripts/lib/stats.js';
import { benchCodec } from './codec.js';
import { benchLarge } from './large.js';
import { benchPlanner } from './planner.js';
import { benchTail } from './tail.js';
import { benchTorchvision } from './torchvision.js';
import { benchTrain } from './train.js';

const opts = new Command('splitflare-bench')
  .option('--json', 'print one JSON object')
  .option('--no-large', 'skip the ViT-B/16 figures (they take about 20 minutes)')
  .parse()
  .opts<{ json?: boolean; large: boolean }>();
const log = (s: string) => {
  if (!opts.json) console.error(s);
};

await buildModels({ log });
log('codec...');
const codec = benchCodec();
log('tail (workerd WASM vs onnxruntime-node)...');
const tail = await benchTail();
log('training step (generated graph) vs forward, WASM vs native...');
const train = await benchTrain();
log('planner: a round of 100 and of 1,000 devices...');
const planner = benchPlanner();
log('quantized frozen weights: the reference model on 1,000 held-out digits...');
const agreement = async (bits: 8 | 4) => {
  const a = await pretrainedAgreement({ bits });
  return {
    top1_agreement: round(a.top1_agreement, 4),
    cosine_min: round(a.cosine_min, 6),
    samples: a.samples,
  };
};
const int8w = await agreement(8);
const int4w = await agreement(4);
let large: Record<string, unknown> = { int8w, int4w };
if (opts.large) {
  log('large: ViT-B/16 on the local edge (this takes a while)...');
  const vit_b16 = await benchLarge(log);
  const torchvision_vit_b16 = await benchTorchvision(log);
  large = { vit_b16, int8w, int4w, torchvision_vit_b16 };
}
const result = {
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  codec,
  tail,
  train,
  planner,
  large,
};
console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
