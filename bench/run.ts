// `npm run bench [-- --json]`: speed and size figures as ratios against
// baselines measured in the same run. BENCHMARKS.md records them.
import { cpus } from 'node:os';
import { Command } from 'commander';
import { buildModels } from '../scripts/build-models.js';
import { benchCodec } from './codec.js';
import { benchTail } from './tail.js';
import { benchTrain } from './train.js';

const opts = new Command('splitflare-bench')
  .option('--json', 'print one JSON object')
  .parse()
  .opts<{ json?: boolean }>();
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
const result = {
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  codec,
  tail,
  train,
};
console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
