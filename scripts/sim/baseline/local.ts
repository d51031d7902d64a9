// One baseline device's local epochs: the whole model forward and backward on
// onnxruntime-node, then an optimizer step, over the same batches in the same
// order a simulated split device with the same data, seed and round would use
// (the SDK's epochOrder/epochBatches), with a fresh optimizer as the SDK builds it.
import { epochBatches, epochOrder } from '../../../client-sdk/trainer/local-data.js';
import { headOptimizer } from '../../../client-sdk/trainer/optimizer.js';
import { RoundTally } from '../../../client-sdk/trainer/tally.js';
import type { LocalDataset } from '../../../client-sdk/trainer/types.js';
import { argmaxRows } from '../../../common/predictions.js';
import { numel } from '../../../models/onnx/tensor.js';
import type { GradSession } from '../../../models/train/grad-session.js';
import type { OptimizerConfig } from '../../../protocol/federation.js';
import { cloneParams, type Params } from './model.js';

export interface LocalRound {
  session: GradSession;
  /** The version the round starts from; left untouched. */
  global: Params;
  data: LocalDataset;
  /** One example's shape, [channels, height, width]. */
  exampleShape: readonly [number, number, number];
  classes: number;
  optimizer: OptimizerConfig;
  localEpochs: number;
  batch: number;
  /** The device's shuffle seed (the simulator's per-device seed). */
  seed: number;
  round: number;
  onStep?: () => void;
}

export interface LocalResult {
  params: Params;
  /** The SDK's tally: samples the steps carried (the FedAvg weight), loss and accuracy over the round's steps. */
  tally: RoundTally;
}

/**
 * Local training met a non-finite loss: the version it started from is
 * broken (an attack got through). The device has no update to send.
 */
export class LocalDivergence extends Error {
  constructor(round: number, step: number) {
    super(`local training diverged in round ${round} at step ${step}`);
    this.name = 'LocalDivergence';
  }
}

export async function trainLocalRound(o: LocalRound): Promise<LocalResult> {
  const params = cloneParams(o.global);
  const views = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, t.data]));
  const optimizer = headOptimizer(o.optimizer);
  const perExample = numel(o.exampleShape);
  const tally = new RoundTally(o.data.size);
  for (let epoch = 0; epoch < o.localEpochs; epoch++) {
    const order = epochOrder(o.data.size, o.seed, o.round, epoch);
    for (const batch of epochBatches(o.data, order, o.batch, perExample)) {
      const n = batch.labels.length;
      const out = await o.session.step(batch.pixels, [n, ...o.exampleShape], batch.labels, params);
      if (!Number.isFinite(out.loss)) throw new LocalDivergence(o.round, tally.steps);
      optimizer.step(views, out.grads);
      const predicted = argmaxRows(out.logits, o.classes);
      let correct = 0;
      for (let i = 0; i < n; i++) if (predicted[i] === batch.labels[i]) correct++;
      tally.addStep(batch.indices, out.loss, correct);
      o.onStep?.();
    }
  }
  return { params, tally };
}
