// One FedAvg-LoRA baseline run, in this process: the simulator's partition of
// Fashion-MNIST and its seeded selection, every selected device training the
// whole adapted model in turn on one single-threaded onnxruntime-node session,
// the coordinator's FedAvg, and the held-out score of every published version.
import { idempotencyKey, randomNonce } from '../../../client-sdk/trainer/submit.js';
import { numel } from '../../../models/onnx/tensor.js';
import { accuracy } from '../../../models/train/evaluate.js';
import { GradSession } from '../../../models/train/grad-session.js';
import { federatedData } from '../data.js';
import { deviceId } from '../devices.js';
import type { SimProgress } from '../progress.js';
import type { RoundResult } from '../results.js';
import { roundAggregator } from './aggregate.js';
import { encodeUpdate, encodeVersion } from './bytes.js';
import { type BaselineConfig, roundOptimizer } from './config.js';
import { trainLocalRound } from './local.js';
import { buildWholeModel, type Params } from './model.js';
import type { BaselineResults } from './results.js';
import { roundParticipants } from './selection.js';

export async function runBaseline(config: BaselineConfig, progress: SimProgress): Promise<BaselineResults> {
  const started = performance.now();
  const { dataset: ds, clients, evalIndices, summary } = await federatedData(config);
  const model = await buildWholeModel();
  const evaluate = (params: Params) => accuracy(model.forward, ds, evalIndices, params);
  const exampleShape = [ds.channels, ds.height, ds.width] as const;
  // Single-threaded, as the centralized fine-tune: a seeded run gives the same weights every time.
  const session = await GradSession.create(model.gradModel, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  // Used only inside the idempotency keys an upload carries (and so counts), shaped like the sim's ids.
  const federationId = `baseline-${Date.now().toString(36)}-${config.seed}`;

  try {
    let global = model.initial;
    const initialAccuracy = await evaluate(global);
    progress.log(`FedAvg-LoRA baseline: initial held-out accuracy ${(initialAccuracy * 100).toFixed(1)}%`);
    const rounds: RoundResult[] = [];
    let cumulativeUplink = 0;
    for (let round = 0; round < config.rounds; round++) {
      progress.startRound(round);
      const roundStart = performance.now();
      const aggregator = roundAggregator(model.specs);
      // Every participant downloads the version the round starts from (version `round`).
      const download = encodeVersion(model.specs, global, round).byteLength;
      let uplink = 0;
      let steps = 0;
      let weightedLoss = 0;
      let weightedAccuracy = 0;
      for (const i of roundParticipants(config.clients, config.perRound, config.seed, round)) {
        const data = clients[i];
        progress.addSteps(Math.ceil(data.size / config.batch) * config.localEpochs);
        const { params, tally } = await trainLocalRound({
          session,
          global,
          data,
          exampleShape,
          classes: ds.classes.length,
          optimizer: roundOptimizer(config, round),
          localEpochs: config.localEpochs,
          batch: config.batch,
          // The per-device seed the simulator gives device i's trainer.
          seed: config.seed * 1000 + i,
          round,
          onStep: () => progress.step(),
        });
        // The device's claim, as the SDK makes it (every step's labels over
        // all epochs), and the weight the coordinator's FedAvg gives it.
        const sampleCount = tally.processed;
        uplink += encodeUpdate(model.specs, params, {
          sampleCount,
          meanLoss: tally.meanLoss,
          accuracy: tally.accuracy,
          steps: tally.steps,
          idempotencyKey: await idempotencyKey(federationId, round, deviceId(i), randomNonce()),
        }).byteLength;
        aggregator.add(params, sampleCount);
        steps += tally.steps;
        weightedLoss += tally.meanLoss * sampleCount;
        weightedAccuracy += tally.accuracy * sampleCount;
        progress.submitted();
      }
      global = aggregator.result();
      const heldOut = await evaluate(global);
      cumulativeUplink += uplink;
      rounds.push({
        round,
        status: 'published',
        version: round + 1,
        accuracy: heldOut,
        uplink_bytes: uplink,
        downlink_bytes: download * aggregator.participants,
        cumulative_uplink_bytes: cumulativeUplink,
        participants: aggregator.participants,
        samples: aggregator.samples,
        mean_loss: weightedLoss / aggregator.samples,
        client_accuracy: weightedAccuracy / aggregator.samples,
        steps,
        seconds: (performance.now() - roundStart) / 1000,
      });
      progress.endRound(heldOut);
    }
    return {
      setup: 'fedavg-lora',
      initial_accuracy: initialAccuracy,
      final_accuracy: rounds[rounds.length - 1].accuracy,
      rounds,
      trainable_parameters: model.specs.reduce((a, s) => a + numel(s.shape), 0),
      ...summary,
      total_seconds: (performance.now() - started) / 1000,
      config,
    };
  } finally {
    await session.release();
  }
}
