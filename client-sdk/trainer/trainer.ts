// The device side of one split federated round (SFL V1): join, start from the
// published head adapters, and for each local batch run the head forward,
// send the quantized activation with its labels, take back the loss and the
// quantized dL/d(activation), run the head backward and step the head
// optimizer; then submit the trained head trainables. Runtime-neutral: the
// ONNX runtime comes in as a SessionFactory and the network as a fetch (see
// node.ts and browser.ts for the ready-made entry points).

import { cryptoUniform, gaussian } from '../../common/random.js';
import { SESSION_PASS_HEADER, type Ticket } from '../../protocol/federation.js';
import type { TrainableSpec } from '../../protocol/manifest.js';
import { DeviceProfileReport } from '../../protocol/profile.js';
import { privatize } from '../../protocol/secagg/distributed-dp.js';
import { ProblemError } from '../errors.js';
import { resolveWire } from '../manifest-check.js';
import type { SessionFactory } from '../runtime/types.js';
import { concreteShape, numel } from '../shapes.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../transport/backoff.js';
import { deadline } from '../transport/signals.js';
import { decodeHeadAdapters, encodeHeadUpdate } from './adapters.js';
import { modelCache, type TrainingManifest } from './artifacts.js';
import { TrainerEmitter } from './events.js';
import type { Params } from './head-graphs.js';
import type { HttpContext } from './http.js';
import { send } from './http.js';
import { joinRound } from './join.js';
import { checkDataset } from './local-data.js';
import { trainLocally } from './local-training.js';
import { ProfileMeter } from './profile.js';
import { ExcludedError, SecureRound } from './secure-round.js';
import { stepChannel } from './step-channel.js';
import { idempotencyKey, randomNonce, type SubmitAnswer, submitUpdate } from './submit.js';
import type { RoundReport, Skipped, SkipReason, Trainer, TrainerOptions } from './types.js';
import { federationUrls } from './urls.js';

export interface CoreTrainerOptions extends TrainerOptions {
  sessionFactory: SessionFactory;
}

const ENDED: Partial<Record<string, SkipReason>> = {
  'round-closed': 'round-closed',
  'federation-finished': 'finished',
  // A device that joined after the keys phase closed, or was left out of a later one.
  'secagg-phase': 'secagg-excluded',
  'secagg-excluded': 'secagg-excluded',
};

export const DEFAULT_TRAINER_TIMEOUT_MS = 60_000;
export const DEFAULT_DEADLINE_MARGIN_MS = 5_000;

export function createTrainer(options: CoreTrainerOptions): Trainer {
  const urls = federationUrls(options.baseUrl, options.federationId);
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...options.retryPolicy,
    retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
  };
  const ctx: HttpContext = {
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    policy,
    timeoutMs: options.timeoutMs ?? DEFAULT_TRAINER_TIMEOUT_MS,
    signal: options.signal,
    headers: { authorization: `Bearer ${options.token}` },
  };
  const now = options.now ?? Date.now;
  const pollMs = options.pollIntervalMs ?? 1000;
  const margin = options.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const models = modelCache(urls, ctx, options.sessionFactory, options.onWarning);
  const emitter = new TrainerEmitter();
  const checkedFor = new Set<string>();
  const throwIfAborted = () => deadline(undefined, [options.signal]).throwIfAborted();
  const meter = new ProfileMeter(
    {
      power: options.power,
      ...(options.radio ? { radio: options.radio } : {}),
      memoryLimitBytes: options.memoryLimitBytes,
      samples: options.dataset.size,
    },
    options.sessionFactory.heapBytes,
  );
  const profile = () => {
    const measured = meter.report();
    return measured && options.adjustProfile ? options.adjustProfile(measured) : measured;
  };
  let busy = false;

  const prepareData = (manifest: TrainingManifest) => {
    const perExample = numel(concreteShape(manifest.input, 1));
    if (!checkedFor.has(manifest.modelId)) {
      checkDataset(options.dataset, perExample, classCount(manifest));
      checkedFor.add(manifest.modelId);
    }
    return perExample;
  };

  const train = async (
    ticket: Ticket,
    sessionPass: string,
    startedAt: number,
  ): Promise<RoundReport | Skipped> => {
    const { manifest, graphs } = await models.get(ticket.modelId);
    const perExample = prepareData(manifest);
    const adapters = await send(
      urls.headAdapters(ticket.version, ticket.modelId),
      { headers: { accept: 'application/octet-stream' } },
      ctx,
    );
    const params = decodeHeadAdapters(adapters.body, graphs.trainables);
    // The round's steps and submit show the join's pass (protocol/federation.ts).
    const roundCtx: HttpContext = { ...ctx, headers: { ...ctx.headers, [SESSION_PASS_HEADER]: sessionPass } };
    const secure = ticket.secureAggregation
      ? await SecureRound.start(ticket, urls.secureAggregation(ticket.round), roundCtx, pollMs)
      : null;
    // What the masked delta is taken from; `params` is trained in place.
    const published = secure
      ? Object.fromEntries(Object.entries(params).map(([name, v]) => [name, v.slice()]))
      : null;
    const channel = stepChannel(
      (seq) => urls.step(ticket.round, seq),
      roundCtx,
      ticket.budgetBytes,
      ticket.plan?.paced ? ticket.plan.rateBps : undefined,
    );
    const { tally, stoppedEarly } = await trainLocally({
      ticket,
      graphs,
      params,
      channel,
      dataset: options.dataset,
      perExample,
      numClasses: classCount(manifest),
      wire: resolveWire(manifest, { encoding: ticket.uplink }),
      // The Worker refuses batches over the manifest's maxBatch, whatever the ticket says.
      batchSize: Math.min(ticket.batchSize, manifest.wire.maxBatch),
      seed: options.seed ?? 0,
      // Leave room for the submit before the round's deadline (the masked phase's, when secure).
      stopBy:
        Math.min(ticket.deadline, ticket.secureAggregation?.maskedBy ?? Number.POSITIVE_INFINITY) - margin,
      now,
      throwIfAborted,
      onStep: (event) => emitter.emit('step', event),
      meter,
    });

    if (tally.processed === 0) return { skipped: 'nothing-trained' };
    const key = await idempotencyKey(ticket.federationId, ticket.round, ticket.deviceId, randomNonce());
    // Sent only as the coordinator would accept it: an update must not fail for its profile.
    const measured = profile();
    const reported = measured && DeviceProfileReport.safeParse(measured).success ? measured : undefined;
    const metadata = {
      // What the session observed (every applied step's labels, over all
      // epochs), so the server can check the claim: not the distinct count.
      sampleCount: tally.processed,
      meanLoss: tally.meanLoss,
      accuracy: tally.accuracy,
      steps: tally.steps,
      idempotencyKey: key,
      // What this round measured, for the next round's plan (the next join reports it too).
      ...(reported ? { profile: reported } : {}),
    };
    let accepted: SubmitAnswer;
    let updateBytes: number;
    if (secure && published) {
      const dp = ticket.secureAggregation?.dp;
      // DP-FedAvg counts every device alike; FedAvg weights by the samples trained.
      const delta = weightedDelta(params, published, graphs.trainables, dp ? 1 : tally.processed);
      if (dp) privatize(delta, dp, gaussian(cryptoUniform()));
      try {
        ({ answer: accepted, bytes: updateBytes } = await secure.submit(delta, metadata));
      } catch (err) {
        if (err instanceof ExcludedError) return { skipped: 'secagg-excluded' };
        throw err;
      }
    } else {
      const update = encodeHeadUpdate(params, graphs.trainables, metadata);
      accepted = await submitUpdate(urls.submit(ticket.round), update, roundCtx);
      updateBytes = update.byteLength;
    }
    emitter.emit('submitted', {
      round: ticket.round,
      participants: accepted.participants,
      duplicate: accepted.duplicate,
    });
    // Without this device's reveal the sum may still unmask (a threshold of
    // members suffices), so a round that closes meanwhile is no failure.
    if (secure) await secure.reveal().catch(ignoreClosed);
    return {
      round: ticket.round,
      version: ticket.version,
      steps: tally.steps,
      samples: tally.samples,
      samplesProcessed: tally.processed,
      meanLoss: tally.meanLoss,
      accuracy: tally.accuracy,
      uplinkBytes: channel.uplinkBytes,
      downlinkBytes: channel.downlinkBytes,
      updateBytes,
      ...(secure ? { secure: true, protocolBytes: secure.protocolBytes } : {}),
      seconds: (now() - startedAt) / 1000,
      headMs: tally.headMs,
      exchangeMs: tally.exchangeMs,
      fastestExchangeMsPerSample: Number.isFinite(tally.fastestExchangeMsPerSample)
        ? tally.fastestExchangeMsPerSample
        : null,
      ...(stoppedEarly ? { stoppedEarly } : {}),
      participants: accepted.participants,
      duplicate: accepted.duplicate,
    };
  };

  const playRound = async (): Promise<RoundReport | Skipped> => {
    const startedAt = now();
    const joinStart = performance.now();
    const joined = await joinRound(urls.join, ctx, options.federationId, profile());
    meter.roundTrip(performance.now() - joinStart);
    if ('skipped' in joined) {
      emitter.emit('skipped', { reason: joined.skipped });
      return joined;
    }
    emitter.emit('joined', { ticket: joined.ticket });
    let outcome: RoundReport | Skipped;
    try {
      outcome = await train(joined.ticket, joined.sessionPass, startedAt);
    } catch (err) {
      // The round or the whole federation closed under us (deadline, or the
      // admin): nothing left to contribute to.
      const reason = err instanceof ProblemError ? ENDED[err.slug ?? ''] : undefined;
      if (!reason) throw err;
      outcome = { skipped: reason };
    }
    if ('skipped' in outcome) emitter.emit('skipped', { reason: outcome.skipped });
    return outcome;
  };

  /**
   * The head's forward and backward on one batch of the device's own data
   * at `modelId`'s cut, timed into the profile: what the planner needs
   * before the device has trained at that cut. The values are zeros (the
   * time does not depend on them) and nothing is sent.
   */
  const calibrate = async (modelId: string): Promise<{ cut: string; msPerSample: number }> => {
    const { manifest, graphs } = await models.get(modelId);
    const perExample = prepareData(manifest);
    const n = Math.min(manifest.wire.maxBatch, options.dataset.size, CALIBRATION_BATCH);
    const pixels = options.dataset.pixels.subarray(0, n * perExample);
    const params = Object.fromEntries(
      graphs.trainables.map((t) => [t.name, new Float32Array(t.shape.reduce((a, b) => a * b, 1))]),
    );
    // One untimed pass first: a session's first run pays for its own setup.
    const warm = await graphs.forward(pixels, n, params);
    await graphs.backward(pixels, n, params, { data: new Float32Array(warm.data.length), dims: warm.dims });
    const start = performance.now();
    const activation = await graphs.forward(pixels, n, params);
    await graphs.backward(pixels, n, params, {
      data: new Float32Array(activation.data.length),
      dims: activation.dims,
    });
    const ms = performance.now() - start;
    meter.head(manifest.cut.id, ms, n);
    return { cut: manifest.cut.id, msPerSample: ms / n };
  };

  return {
    calibrate,
    async runRound() {
      // One device takes part in a round once; overlapping calls would race for the same step sequence.
      if (busy) throw new Error('runRound is already running on this trainer');
      busy = true;
      try {
        return await playRound();
      } finally {
        busy = false;
      }
    },
    on: (event, listener) => emitter.on(event, listener),
    close: () => models.release(),
  };
}

/** weight × (trained − published), head trainables in manifest order: what a masked update sums. */
function weightedDelta(
  trained: Params,
  published: Params,
  specs: readonly TrainableSpec[],
  weight: number,
): Float64Array {
  const out = new Float64Array(specs.reduce((n, t) => n + trained[t.name].length, 0));
  let offset = 0;
  for (const t of specs) {
    const a = trained[t.name];
    const b = published[t.name];
    for (let i = 0; i < a.length; i++) out[offset + i] = weight * (a[i] - b[i]);
    offset += a.length;
  }
  return out;
}

function ignoreClosed(err: unknown): void {
  if (err instanceof ExcludedError) return;
  if (err instanceof ProblemError && (err.slug === 'round-closed' || err.slug === 'federation-finished'))
    return;
  throw err;
}

/** Samples a calibration times at most. */
const CALIBRATION_BATCH = 32;

function classCount(manifest: TrainingManifest): number | undefined {
  const last = manifest.output.shape[manifest.output.shape.length - 1];
  return typeof last === 'number' ? last : manifest.labels?.length;
}
