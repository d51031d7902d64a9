// One FedAvg-LoRA baseline run, in this process: the simulator's partition of
// Fashion-MNIST and its seeded selection, every selected device training the
// whole adapted model in turn on one single-threaded onnxruntime-node session,
// the server's admission and the strategy module's aggregation, and the
// held-out score of the published versions. With an attack, a seeded set of
// devices turns its training into that attack whenever it is selected.
import { idempotencyKey, randomNonce } from '../../../client-sdk/trainer/submit.js';
import type { LocalDataset } from '../../../client-sdk/trainer/types.js';
import { mulberry32 } from '../../../common/random.js';
import { numel } from '../../../models/onnx/tensor.js';
import { accuracy } from '../../../models/train/evaluate.js';
import { GradSession } from '../../../models/train/grad-session.js';
import { UpdateBound } from '../../../protocol/federation.js';
import { UpdateError } from '../../../protocol/update.js';
import type { AggregationSummary } from '../../../strategy/aggregate.js';
import { epsilonSpent, type PrivateRound } from '../../../strategy/privacy/accountant.js';
import { federatedData } from '../data.js';
import { deviceId } from '../devices.js';
import type { SimProgress } from '../progress.js';
import { roundAggregator } from './aggregate.js';
import { flipLabels, maliciousDevices, submission } from './attack.js';
import { encodeUpdate, encodeVersion } from './bytes.js';
import { type BaselineConfig, roundOptimizer } from './config.js';
import { LocalDivergence, trainLocalRound } from './local.js';
import { buildWholeModel, type Params } from './model.js';
import type { BaselineResults, BaselineRound } from './results.js';
import { roundParticipants } from './selection.js';

/** Whether the version a round publishes is scored: every `evalEvery`-th round and always the last. */
export const scoredRound = (round: number, rounds: number, evalEvery: number): boolean =>
  (round + 1) % evalEvery === 0 || round === rounds - 1;

export async function runBaseline(config: BaselineConfig, progress: SimProgress): Promise<BaselineResults> {
  const started = performance.now();
  const { dataset: ds, clients, evalIndices, summary } = await federatedData(config);
  const model = await buildWholeModel();
  const evaluate = (params: Params) => accuracy(model.forward, ds, evalIndices, params);
  const exampleShape = [ds.channels, ds.height, ds.width] as const;
  const classes = ds.classes.length;
  // The federation's default bound, as a federation created without one gets it.
  const bound = UpdateBound.parse({});
  const rules = {
    strategy: config.strategy,
    bound,
    unverified: config.unverified,
    expectedClients: config.perRound,
    // Its own stream, so DP noise leaves the partition, selection and shuffles as they are.
    uniform: mulberry32(config.seed ^ 0x5eed_d9),
  };
  const attackers =
    config.attack === 'none' ? [] : maliciousDevices(config.clients, config.malicious, config.seed);
  const isAttacker = new Set(attackers);
  const dataOf = (i: number): LocalDataset =>
    isAttacker.has(i) && config.attack === 'label-flip' ? flipLabels(clients[i], classes) : clients[i];
  // Single-threaded, as the centralized fine-tune: a seeded run gives the same weights every time.
  const session = await GradSession.create(model.gradModel, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  // Used only inside the idempotency keys an upload carries (and so counts), shaped like the sim's ids.
  const federationId = `baseline-${Date.now().toString(36)}-${config.seed}`;

  try {
    let global = model.initial;
    let version = 0;
    const initialAccuracy = await evaluate(global);
    progress.log(`FedAvg-LoRA baseline: initial held-out accuracy ${(initialAccuracy * 100).toFixed(1)}%`);
    let finalAccuracy = initialAccuracy;
    const rounds: BaselineRound[] = [];
    let cumulativeUplink = 0;
    // DP-FedAvg's ledger, as the coordinator keeps it: each published round's rate and ε so far.
    const ledger: PrivateRound[] = [];
    const withPrivacy = (summary: AggregationSummary): AggregationSummary => {
      const dp = config.strategy;
      if (dp.kind !== 'dp-fedavg') return summary;
      const entry = { samplingRate: config.perRound / config.clients, noiseMultiplier: dp.noiseMultiplier };
      ledger.push(entry);
      return { ...summary, privacy: { ...entry, epsilon: epsilonSpent(ledger, dp.delta), delta: dp.delta } };
    };
    for (let round = 0; round < config.rounds; round++) {
      progress.startRound(round);
      const roundStart = performance.now();
      const aggregator = roundAggregator(model.specs, global, rules);
      // Every participant downloads the version the round starts from.
      const download = encodeVersion(model.specs, global, version).byteLength;
      const selected = roundParticipants(config.clients, config.perRound, config.seed, round);
      let uplink = 0;
      let steps = 0;
      let lost = 0;
      let observed = 0;
      let weightedLoss = 0;
      let weightedAccuracy = 0;
      const scales: number[] = [];
      for (const i of selected) {
        const data = dataOf(i);
        progress.addSteps(Math.ceil(data.size / config.batch) * config.localEpochs);
        const trained = await trainLocalRound({
          session,
          global,
          data,
          exampleShape,
          classes,
          optimizer: roundOptimizer(config, round),
          localEpochs: config.localEpochs,
          batch: config.batch,
          // The per-device seed the simulator gives device i's trainer.
          seed: config.seed * 1000 + i,
          round,
          onStep: () => progress.step(),
        }).catch((err: unknown) => {
          if (err instanceof LocalDivergence) return null;
          throw err;
        });
        if (!trained) {
          lost++;
          continue;
        }
        const { tally } = trained;
        steps += tally.steps;
        const sent = submission(
          config.attack,
          isAttacker.has(i),
          global,
          trained.params,
          tally.processed,
          bound.maxAbs,
        );
        if (sent.scale !== undefined) scales.push(sent.scale);
        let bytes: Uint8Array;
        try {
          bytes = encodeUpdate(model.specs, sent.params, {
            sampleCount: sent.claimed,
            meanLoss: tally.meanLoss,
            accuracy: tally.accuracy,
            steps: tally.steps,
            idempotencyKey: await idempotencyKey(federationId, round, deviceId(i), randomNonce()),
          });
        } catch (err) {
          // Values the protocol cannot carry (the device's version is broken): nothing is sent.
          if (err instanceof UpdateError && err.code === 'non-finite') {
            lost++;
            continue;
          }
          throw err;
        }
        uplink += bytes.byteLength;
        // The session observed every step's labels over all epochs (the tally's processed count).
        const verdict = aggregator.offer({
          deviceId: deviceId(i),
          params: sent.params,
          claimed: sent.claimed,
          observed: tally.processed,
        });
        if (verdict.accepted) {
          // Reported metrics weighted by what was observed, whatever the update claimed.
          observed += tally.processed;
          weightedLoss += tally.meanLoss * tally.processed;
          weightedAccuracy += tally.accuracy * tally.processed;
        }
        progress.submitted();
      }
      const next = aggregator.result();
      if (next) {
        global = next.params;
        version++;
      }
      const heldOut = scoredRound(round, config.rounds, config.evalEvery) ? await evaluate(global) : null;
      if (heldOut !== null) finalAccuracy = heldOut;
      cumulativeUplink += uplink;
      rounds.push({
        round,
        // As the coordinator: a round that admitted nothing fails and the version stays.
        status: next ? 'published' : 'failed',
        version,
        accuracy: heldOut,
        uplink_bytes: uplink,
        downlink_bytes: download * selected.length,
        cumulative_uplink_bytes: cumulativeUplink,
        participants: aggregator.participants,
        samples: aggregator.samples,
        mean_loss: observed > 0 ? weightedLoss / observed : null,
        client_accuracy: observed > 0 ? weightedAccuracy / observed : null,
        steps,
        seconds: (performance.now() - roundStart) / 1000,
        selected: selected.length,
        malicious: selected.filter((i) => isAttacker.has(i)).length,
        refused: aggregator.refused.length,
        refusals: [...aggregator.refused],
        lost,
        aggregation: next ? withPrivacy(next.summary) : null,
        attack_scales: scales,
      });
      const record = rounds[rounds.length - 1];
      if (config.attack !== 'none' || record.refused > 0 || lost > 0) {
        progress.log(
          `round ${round + 1}: ${record.malicious}/${record.selected} malicious, ${record.participants} admitted, ` +
            `${record.refused} refused, ${lost} lost${next ? '' : ', failed'}`,
        );
      }
      progress.endRound(heldOut ?? Number.NaN);
    }
    return {
      setup: 'fedavg-lora',
      initial_accuracy: initialAccuracy,
      final_accuracy: finalAccuracy,
      rounds,
      trainable_parameters: model.specs.reduce((a, s) => a + numel(s.shape), 0),
      malicious_devices: attackers,
      ...summary,
      total_seconds: (performance.now() - started) / 1000,
      config,
    };
  } finally {
    await session.release();
  }
}
