// Secure aggregation in the coordinator's rounds: the protocol's state lives
// in the `secagg` table beside the round, the masked sum in an accumulator.
// The device-side trainables go into the sum only; the tail's, which the
// edge computes itself, are folded as usual. Once the unmask phase is done
// the sum is unmasked (asynchronously: WebCrypto) and becomes the head's
// FedAvg accumulators, so the round ends as a plain FedAvg round would.

import { logEvent } from '../../edge/log.js';
import type { Ticket } from '../../protocol/federation.js';
import { deviceDp } from '../../protocol/secagg/distributed-dp.js';
import { addInto } from '../../protocol/secagg/ring.js';
import {
  advancePhases,
  newSecAgg,
  phaseDeadline,
  type Refusal,
  type SecAggState,
  thresholdFor,
  unmaskSum,
} from '../../protocol/secagg/server.js';
import { fail, type RpcFailure } from '../rpc.js';
import type { CoordinatorStore, FederationRow, RoundRow } from './storage.js';
import { numel } from './update.js';

/** The accumulator the masked sum is kept in. */
const MASKED_SUM = 'secagg.sum';

const headSpecs = (fed: FederationRow) => fed.trainables.filter((t) => t.owner === 'head');

/** Ring elements in a masked update: the head trainables, in manifest order. */
export const maskedLength = (fed: FederationRow): number =>
  headSpecs(fed).reduce((n, t) => n + numel(t.shape), 0);

export const secure = (fed: FederationRow): boolean => fed.config.secureAggregation !== undefined;

/** Starts the protocol for a round just opened. */
export function openSecureRound(
  store: CoordinatorStore,
  fed: FederationRow,
  round: number,
  selected: readonly string[],
  openedAt: number,
  deadline: number,
): void {
  const config = fed.config.secureAggregation!;
  const at = (share: number) => Math.round(openedAt + (deadline - openedAt) * share);
  const state = newSecAgg(`${fed.id}/${round}`, selected, thresholdFor(selected.length, config.threshold), {
    keys: at(config.keysBy),
    shares: at(config.sharesBy),
    masked: at(config.maskedBy),
    unmask: deadline,
  });
  store.writeSecAgg(round, state);
}

export function ticketPart(fed: FederationRow, state: SecAggState): Ticket['secureAggregation'] {
  const { strategy } = fed.config;
  return {
    context: state.context,
    threshold: state.threshold,
    fractionalBits: fed.config.secureAggregation!.fractionalBits,
    maskedBy: state.deadlines.masked,
    ...(strategy.kind === 'dp-fedavg'
      ? { dp: deviceDp(strategy.clip, strategy.noiseMultiplier, state.threshold) }
      : {}),
  };
}

/** The head's trainables are summed under masks: the strategy sees the tail's only. */
export const maskedSide = (fed: FederationRow, owner: 'head' | 'tail'): boolean =>
  secure(fed) && owner === 'head';

export function refusalFailure(r: Refusal, state: SecAggState): RpcFailure {
  switch (r.reason) {
    case 'wrong-phase':
      return fail('secagg-phase', r.detail, { extensions: { phase: state.phase } });
    case 'not-a-member':
      return fail('secagg-excluded', r.detail);
    case 'conflict':
      return fail('conflict', r.detail);
    default:
      return fail('invalid-secagg', r.detail);
  }
}

/**
 * Closes the phases of the round's protocol that are due, and stores the
 * state if they moved or the caller `changed` it (a message it applied):
 * one read and at most one write of the state per request.
 */
export function advanceSecure(
  store: CoordinatorStore,
  round: RoundRow,
  now: number,
  state: SecAggState | null = store.secAgg(round.round),
  changed = false,
): { state: SecAggState | null; moved: boolean } {
  if (!state) return { state, moved: false };
  const moved = advancePhases(state, now);
  if (moved || changed) store.writeSecAgg(round.round, state);
  if (!moved) return { state, moved };
  logEvent(state.phase === 'failed' ? 'warn' : 'info', 'secagg-phase', {
    context: state.context,
    phase: state.phase,
    roster: state.roster?.length,
    sharers: state.sharers?.length,
    survivors: state.survivors?.length,
    failure: state.failure,
  });
  return { state, moved };
}

/** When the round's protocol next needs attention: its phase's deadline, or at once when it awaits unmasking. */
export function secureAlarm(state: SecAggState, round: RoundRow): number {
  return state.phase === 'done' ? round.openedAt : (phaseDeadline(state) ?? round.deadline);
}

export function foldMasked(
  store: CoordinatorStore,
  fed: FederationRow,
  round: number,
  masked: Float64Array,
): void {
  const sum = store.readAccumulator(round, MASKED_SUM, maskedLength(fed));
  addInto(sum, masked);
  store.writeAccumulator(round, MASKED_SUM, sum);
}

/**
 * The head's accumulators from the unmasked sum of the devices' deltas. For
 * FedAvg (deltas weighted by their samples) they are Σ weight · values, the
 * sum plus `totalWeight` times the round's starting values; for DP-FedAvg
 * (clipped, noised, unweighted deltas; `totalWeight` 0) the sum itself.
 */
export async function unmaskedAccumulators(
  store: CoordinatorStore,
  fed: FederationRow,
  round: RoundRow,
  state: SecAggState,
  totalWeight: number,
): Promise<Map<string, Float64Array>> {
  const sum = store.readAccumulator(round.round, MASKED_SUM, maskedLength(fed));
  const deltas = await unmaskSum(state, sum, fed.config.secureAggregation!.fractionalBits);
  const out = new Map<string, Float64Array>();
  let offset = 0;
  for (const spec of headSpecs(fed)) {
    const n = numel(spec.shape);
    const base = store.readAdapter(round.baseVersion, spec.name, n)!;
    out.set(
      spec.name,
      Float64Array.from(deltas.subarray(offset, offset + n), (d, i) => d + totalWeight * base[i]),
    );
    offset += n;
  }
  return out;
}
