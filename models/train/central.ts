// Centralized training over a generated gradient graph: the loop behind
// `npm run models:pretrain` and `npm run models:finetune-central`.
import type { Optimizer } from '../../common/optim/index.js';
import { mulberry32, shuffle } from '../../common/random.js';
import { batchIndices, batchOf, type Dataset } from '../../datasets/index.js';
import type { ModelProto } from '../onnx/proto.js';
import { randomShift } from './augment.js';
import { GradSession, type Trainable } from './grad-session.js';

export interface CentralTrainOptions {
  /** From differentiate(): loss, logits and grad.<name> for every trainable. */
  gradModel: ModelProto;
  /** Updated in place. */
  trainables: Record<string, Trainable>;
  optimizer: Optimizer;
  /** Learning rate per global step; default: the optimizer's own. */
  schedule?: (step: number) => number;
  dataset: Dataset;
  train: ArrayLike<number>;
  epochs: number;
  batchSize: number;
  seed: number;
  augment?: { maxShift: number };
  /**
   * onnxruntime intra-op threads. Default 1: multi-threaded kernels sum in a
   * varying order, and a seeded run should give the same weights every time.
   */
  threads?: number;
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  onEpoch?: (info: { epoch: number; meanLoss: number }) => Promise<void> | void;
}

export async function trainCentral(o: CentralTrainOptions): Promise<void> {
  const session = await GradSession.create(o.gradModel, {
    intraOpNumThreads: o.threads ?? 1,
    interOpNumThreads: 1,
  });
  const random = mulberry32(o.seed);
  // The normalized value of a black pixel fills the space a shift uncovers.
  const fill = -o.dataset.normalization.mean[0] / o.dataset.normalization.std[0];
  const stepsPerEpoch = Math.ceil(o.train.length / o.batchSize);
  const params = Object.fromEntries(Object.entries(o.trainables).map(([k, t]) => [k, t.data]));
  let global = 0;
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = shuffle(Array.from(o.train), random);
      let lossSum = 0;
      let step = 0;
      for (const idx of batchIndices(order, o.batchSize)) {
        const batch = batchOf(o.dataset, idx);
        const pixels = o.augment
          ? randomShift(batch.pixels, batch.shape, o.augment.maxShift, fill, random)
          : batch.pixels;
        const out = await session.step(pixels, batch.shape, batch.labels, o.trainables);
        if (!Number.isFinite(out.loss)) throw new Error(`training diverged at epoch ${epoch} step ${step}`);
        if (o.schedule) o.optimizer.lr = o.schedule(global);
        o.optimizer.step(params, out.grads);
        lossSum += out.loss;
        step++;
        global++;
        o.onStep?.({ epoch, step, stepsPerEpoch, loss: out.loss });
      }
      await o.onEpoch?.({ epoch, meanLoss: lossSum / step });
    }
  } finally {
    await session.release();
  }
}
