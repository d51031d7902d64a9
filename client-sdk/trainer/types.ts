// The trainer's public types: what a caller passes in, what a round reports,
// and the events it emits while it runs.

import type { Ticket } from '../../protocol/federation.js';
import type { DeviceProfileReport, PowerModel, RadioReport } from '../../protocol/profile.js';
import type { WarningSink } from '../privacy-warning.js';
import type { RetryPolicy } from '../transport/backoff.js';
import type { FetchLike } from '../transport/http.js';

/** The device's own examples. They never leave the device; only activations do. */
export interface LocalDataset {
  /** size × the model's input shape (e.g. n×1×28×28), NCHW, normalized as manifest.preprocess says. */
  pixels: Float32Array;
  /** Class index per example. */
  labels: ArrayLike<number>;
  size: number;
}

export interface TrainerOptions {
  /** Origin (and optional path prefix) of the Worker. */
  baseUrl: string;
  federationId: string;
  /** The device token issued at enrollment. */
  token: string;
  dataset: LocalDataset;
  /** Default globalThis.fetch. */
  fetch?: FetchLike;
  /** Where warnings go (once per model per process: an uplink the server can invert). Default console.warn. */
  onWarning?: WarningSink;
  /** Seeds the per-epoch shuffles; the same seed, round and data give the same batches. Default 0. */
  seed?: number;
  /** Aborts the current round and every later one. */
  signal?: AbortSignal;
  /** Retries of transient failures (network, 429 with Retry-After, 502/503/504) per request. Default 3. */
  retries?: number;
  /** Fine-tuning of the backoff; mostly for tests. */
  retryPolicy?: Partial<Omit<RetryPolicy, 'retries'>>;
  /** Budget of one HTTP exchange, retries included. Default 60 s. */
  timeoutMs?: number;
  /**
   * Stop stepping this long before the ticket's deadline, so the update still
   * arrives in time. Default 5 s.
   */
  deadlineMarginMs?: number;
  /** How often to ask for the next phase of a securely aggregated round. Default 1 s. */
  pollIntervalMs?: number;
  /** Current time in Unix ms; a seam for tests. Default Date.now. */
  now?: () => number;
  /**
   * The device's power model, reported with its measured profile at each join
   * (protocol/profile.ts) for the coordinator's round planning.
   */
  power?: PowerModel;
  /**
   * The device's radio (its channel's gain to the cell and its transmit
   * limit), reported likewise: in a cell the planning declares, the planner
   * chooses its transmit power (ticket.plan.powerW).
   */
  radio?: RadioReport;
  /** Memory the head may use on this device (bytes), reported likewise. */
  memoryLimitBytes?: number;
  /**
   * Rewrites the measured profile before it is reported: for an emulator
   * that runs many devices on one machine and reports each one's emulated
   * compute and link (scripts/sim/fleet.ts). Devices leave it unset.
   */
  adjustProfile?: (measured: DeviceProfileReport) => DeviceProfileReport;
}

/** Why a round ended before all local epochs were done. */
export type EarlyStop = 'budget-exhausted' | 'deadline';

export interface RoundReport {
  round: number;
  /** The adapter version the round started from. */
  version: number;
  /** Steps the server answered (and the head was updated for). */
  steps: number;
  /** Distinct local examples trained on. */
  samples: number;
  /**
   * Examples the applied steps carried over all epochs (samples × epochs when
   * nothing stopped early), a step whose answer was lost included: the
   * update's sampleCount, what the session observed and FedAvg weights by.
   */
  samplesProcessed: number;
  /** Sample-weighted mean of the per-step training losses. */
  meanLoss: number;
  /** Share of processed examples the tail classified correctly during training. */
  accuracy: number;
  /** Step request bytes sent (activations and labels), every attempt counted. */
  uplinkBytes: number;
  /** Step answer bytes received (gradients). */
  downlinkBytes: number;
  /** The head update's bytes (the masked update's, when the round aggregates securely). */
  updateBytes: number;
  /** The round aggregated securely: the coordinator saw only the sum of the head updates. */
  secure?: boolean;
  /** Secure aggregation's own messages, both ways: keys, shares, status polls, the reveal. */
  protocolBytes?: number;
  /** Wall time of the round on the device, join to accepted submit. */
  seconds: number;
  /** The head's forward and backward over the round's answered steps (ms). */
  headMs: number;
  /** The step exchanges' wall time (ms): the link's and the edge's, not waits for the planned rate. */
  exchangeMs: number;
  /** The quickest step exchange per sample (ms), null before any was answered: the least the link and the edge took. */
  fastestExchangeMsPerSample: number | null;
  stoppedEarly?: EarlyStop;
  /** Participants the coordinator counts for the round after this submission. */
  participants: number;
  /** The coordinator already had this update (a retried submit). */
  duplicate: boolean;
}

/**
 * A round the device did not contribute to: not picked, nothing open, the
 * federation is over, the round closed (deadline) before the update landed,
 * or not one step got through (budget or deadline too tight), leaving no
 * update to submit, or a securely aggregated round went on without it.
 */
export type SkipReason =
  | 'not-selected'
  | 'no-open-round'
  | 'finished'
  | 'round-closed'
  | 'nothing-trained'
  /** Secure aggregation closed a phase without this device (too slow), so its update cannot join the sum. */
  | 'secagg-excluded';

export interface Skipped {
  skipped: SkipReason;
}

export interface TrainerEvents {
  joined: { ticket: Ticket };
  step: { round: number; epoch: number; step: number; loss: number; correct: number; batch: number };
  submitted: { round: number; participants: number; duplicate: boolean };
  skipped: { reason: SkipReason };
}

export type TrainerEventName = keyof TrainerEvents;

export interface Trainer {
  /** Joins the open round, trains the local epochs against the Worker and submits the head update. */
  runRound(): Promise<RoundReport | Skipped>;
  /**
   * Times the head of `modelId` (forward and backward, one batch of local
   * data, nothing sent) into the profile the next join reports: how a
   * device tells the round planner what a cut costs it before training there.
   */
  calibrate(modelId: string): Promise<{ cut: string; msPerSample: number }>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends TrainerEventName>(event: E, listener: (payload: TrainerEvents[E]) => void): () => void;
  /** Releases the ONNX sessions; a later runRound loads them again. */
  close(): Promise<void>;
}
