// The local epochs of one round: for each batch, head forward → quantized
// activation → step on the Worker → head backward with the returned gradient
// → optimizer step. Stops early when the round's byte budget is spent or its
// deadline is close, keeping what was trained so far.

import { distanceCorrelation } from '../../common/distance-correlation.js';
import { cryptoUniform } from '../../common/random.js';
import type { Ticket } from '../../protocol/federation.js';
import { encodeFrame } from '../../protocol/frame.js';
import { encodeStepRequest } from '../../protocol/step.js';
import { addTokenNoise } from '../../protocol/token-noise.js';
import type { WireSettings } from '../wire-settings.js';
import type { HeadGraphs, Params } from './head-graphs.js';
import { epochBatches, epochOrder } from './local-data.js';
import { headOptimizer } from './optimizer.js';
import type { ProfileMeter } from './profile.js';
import type { StepChannel } from './step-channel.js';
import { RoundTally } from './tally.js';
import type { EarlyStop, LocalDataset, TrainerEvents } from './types.js';

export interface LocalTrainingInput {
  ticket: Ticket;
  graphs: HeadGraphs;
  /** The head trainables, updated in place. */
  params: Params;
  channel: StepChannel;
  dataset: LocalDataset;
  perExample: number;
  numClasses: number | undefined;
  wire: Required<WireSettings>;
  batchSize: number;
  seed: number;
  /** Local training stops once another step would end later than this (Unix ms). */
  stopBy: number;
  now: () => number;
  throwIfAborted: () => void;
  onStep: (event: TrainerEvents['step']) => void;
  /** Where the head's and the exchanges' times go (protocol/profile.ts). */
  meter: ProfileMeter;
}

export interface LocalTrainingResult {
  tally: RoundTally;
  stoppedEarly?: EarlyStop;
}

const uniform = cryptoUniform();

/** The activation as sent: with the ticket's token noise on a copy, or as it is. */
function withNoise(data: Float32Array, dims: readonly number[], sigma: number | undefined): Float32Array {
  if (!sigma) return data;
  const noisy = data.slice();
  addTokenNoise(noisy, dims[dims.length - 1], sigma, uniform);
  return noisy;
}

/**
 * The gradient the head's backward takes: the tail's, plus α times that of
 * the NoPeek penalty (the batch's pixels against the activation before noise
 * and quantization, which is what the head computes).
 */
function withDecorrelation(
  gradient: Float32Array,
  pixels: Float32Array,
  activation: Float32Array,
  n: number,
  alpha: number | undefined,
): Float32Array {
  if (!alpha || n < 2) return gradient;
  const penalty = distanceCorrelation(pixels, activation, n).gradient;
  return Float32Array.from(gradient, (g, i) => g + alpha * penalty[i]);
}

export async function trainLocally(input: LocalTrainingInput): Promise<LocalTrainingResult> {
  const { ticket, graphs, params, channel, dataset, now } = input;
  const optimizer = headOptimizer(ticket.headOptimizer);
  const tally = new RoundTally(dataset.size);
  // A smoothed upper estimate of one step, so the last step still ends before stopBy.
  let stepMs = 0;
  const planned = ticket.plan?.steps;

  for (let epoch = 0; epoch < ticket.localEpochs; epoch++) {
    const order = epochOrder(dataset.size, input.seed, ticket.round, epoch);
    for (const batch of epochBatches(dataset, order, input.batchSize, input.perExample)) {
      input.throwIfAborted();
      // The round's plan may give a slow device fewer steps than its data makes (planning.minWork).
      if (planned !== undefined && tally.steps >= planned) return { tally };
      if (now() + stepMs > input.stopBy) return { tally, stoppedEarly: 'deadline' };
      const stepStart = now();
      const n = batch.indices.length;
      const forwardStart = performance.now();
      const activation = await graphs.forward(batch.pixels, n, params);
      let headMs = performance.now() - forwardStart;
      const sent = withNoise(activation.data, activation.dims, ticket.activationNoise);
      const frame = encodeFrame({ shape: [...activation.dims], data: sent }, input.wire);
      const body = encodeStepRequest(
        { activation: frame, labels: batch.labels },
        { numClasses: input.numClasses },
      );
      const bytesBefore = channel.uplinkBytes + channel.downlinkBytes;
      const pacedBefore = channel.pacedMs;
      const exchangeStart = performance.now();
      const result = await channel.send(body, activation.dims);
      // Time spent waiting for the planned rate is the plan's, not the link's.
      const exchangeMs = performance.now() - exchangeStart - (channel.pacedMs - pacedBefore);
      input.meter.exchange(exchangeMs, channel.uplinkBytes + channel.downlinkBytes - bytesBefore);
      tally.exchangeMs += exchangeMs;
      if (result.kind === 'answered') {
        tally.fastestExchangeMsPerSample = Math.min(tally.fastestExchangeMsPerSample, exchangeMs / n);
      }
      if (result.kind === 'budget-exhausted') return { tally, stoppedEarly: 'budget-exhausted' };
      if (result.kind === 'lost') {
        tally.addLost(batch.indices);
        continue;
      }
      if (graphs.trainables.length > 0) {
        const backwardStart = performance.now();
        const grads = await graphs.backward(batch.pixels, n, params, {
          data: withDecorrelation(result.gradient, batch.pixels, activation.data, n, ticket.decorrelation),
          dims: activation.dims,
        });
        headMs += performance.now() - backwardStart;
        optimizer.step(params, grads);
      }
      input.meter.head(ticket.cut, headMs, n);
      tally.headMs += headMs;
      tally.addStep(batch.indices, result.loss, result.correct);
      stepMs = Math.max(stepMs * 0.8, now() - stepStart);
      input.onStep({
        round: ticket.round,
        epoch,
        step: tally.steps,
        loss: result.loss,
        correct: result.correct,
        batch: n,
      });
    }
  }
  return { tally };
}
