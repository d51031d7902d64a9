// Progress and held-out evaluation for centralized training runs: a bar per
// epoch with the running loss, the held-out accuracy after every epoch, and
// the history a run records.
import cliProgress from 'cli-progress';
import type { CentralTrainOptions } from './central.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
}

export interface EpochProgress extends Pick<CentralTrainOptions, 'onStep' | 'onEpoch'> {
  history: EpochRecord[];
  stop(): void;
}

export function epochProgress(
  stepsPerEpoch: number,
  epochs: number,
  evaluate: () => Promise<number>,
  initialAccuracy?: number,
): EpochProgress {
  const bar = new cliProgress.SingleBar(
    { format: ' epoch {epoch} |{bar}| {value}/{total} steps  loss {loss}  held-out {acc}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const history: EpochRecord[] = [];
  let acc = initialAccuracy === undefined ? '-' : `${(initialAccuracy * 100).toFixed(2)}%`;
  bar.start(stepsPerEpoch, 0, { epoch: 1, loss: '-', acc });
  return {
    history,
    onStep: ({ epoch, step, loss }) => bar.update(step, { epoch: epoch + 1, loss: loss.toFixed(3), acc }),
    onEpoch: async ({ epoch, meanLoss }) => {
      const accuracy = await evaluate();
      history.push({ epoch: epoch + 1, loss: meanLoss, accuracy });
      acc = `${(accuracy * 100).toFixed(2)}%`;
      if (epoch + 1 < epochs) bar.start(stepsPerEpoch, 0, { epoch: epoch + 2, loss: '-', acc });
    },
    stop: () => bar.stop(),
  };
}
