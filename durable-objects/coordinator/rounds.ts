// Round transitions. Each function runs inside the caller's synchronous
// SQLite transaction, so a round is never seen half-closed: publishing the
// new version, closing the round and opening the next one commit together.

import { logEvent } from '../../edge/log.js';
import { tailDp } from '../../protocol/secagg/distributed-dp.js';
import {
  type AggregationSummary,
  aggregate,
  cryptoUniform,
  finalize,
  keepsUpdates,
  roundEnd,
  selectDevices,
} from '../../strategy/index.js';
import { type ConfigureInput, configureRound, type RoundPlan } from '../../strategy/plan/configure.js';
import { PlanError } from '../../strategy/plan/planner.js';
import { aggregationSlice, type UpdateBuffer } from './buffer.js';
import { baseValues, SHARED_TAIL_KEY, sharedNames } from './intake.js';
import { exceedsBudget, roundPrivacy } from './privacy.js';
import { advanceSecure, maskedSide, openSecureRound, secure, secureAlarm } from './secure.js';
import type { CoordinatorStore, FederationRow, RoundRow } from './storage.js';
import { numel } from './update.js';

/** Tries at scoring a round's candidate before it is published unscored. */
export const MAX_EVALUATION_ATTEMPTS = 3;
const EVALUATION_RETRY_MS = 30_000;

export const isLive = (r: RoundRow): boolean => r.status === 'open' || r.status === 'training';

/** Opens `round` from the current version with a fresh seeded selection. */
export function openRound(store: CoordinatorStore, fed: FederationRow, round: number, now: number): void {
  const selected = selectDevices(store.deviceIds(), fed.config.clientsPerRound, fed.config.seed, round);
  const deadline = now + Math.max(1, Math.round(fed.config.roundDeadlineSeconds * 1000));
  store.insertRound({ round, baseVersion: fed.currentVersion, openedAt: now, deadline }, selected);
  const plan = planRoundOf(store, fed, round, selected);
  const mode = fed.config.splitfed === 'auto' ? (plan?.summary.splitfed ?? 'v1') : fed.config.splitfed;
  store.setRoundMode(round, mode);
  if (secure(fed)) openSecureRound(store, fed, round, selected, now, deadline);
  store.setCurrentRound(round);
  logEvent('info', 'round-opened', {
    federation: fed.id,
    round,
    baseVersion: fed.currentVersion,
    selected: selected.length,
    deadline: new Date(deadline).toISOString(),
  });
}

/**
 * A planned federation's round: each selected device's encodings and uplink
 * share from its last profile (strategy/plan/configure.ts). A round no plan
 * fits (the budget too small for the deadline, say) still opens, with every
 * device on the fixed encodings and an equal share.
 */
function planRoundOf(
  store: CoordinatorStore,
  fed: FederationRow,
  round: number,
  selected: string[],
): RoundPlan | null {
  const planning = fed.config.planning;
  if (!planning || fed.cuts.length === 0) return null;
  const input: ConfigureInput = {
    planning,
    fixed: fed.config,
    cuts: fed.cuts,
    tailMsPerSample: store.tailMsPerSample(),
    deadlineS: fed.config.roundDeadlineSeconds,
    splitfed: fed.config.splitfed,
    devices: selected.map((deviceId) => ({ deviceId, profile: store.device(deviceId)?.profile ?? null })),
  };
  let plan: RoundPlan;
  try {
    plan = configureRound(input);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    logEvent('warn', 'round-unplanned', { federation: fed.id, round, reason: err.message });
    plan = configureRound({ ...input, devices: input.devices.map((d) => ({ ...d, profile: null })) });
  }
  store.setRoundPlan(round, plan);
  const { method, latencyS, energyJ, meetsDeadline, unprofiled } = plan.summary;
  logEvent('info', 'round-planned', {
    federation: fed.id,
    round,
    method,
    latencyS,
    energyJ,
    meetsDeadline,
    unprofiled: unprofiled.length,
    splitfed: plan.summary.splitfed,
  });
  return plan;
}

/** The next version's values of every trainable, by the federation's strategy, and what it did. */
function aggregateRound(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  fed: FederationRow,
  round: RoundRow,
): { values: Map<string, Float32Array>; summary: AggregationSummary } {
  const submissions = store.submissions(round.round);
  const strategy = fed.config.strategy;
  if (!keepsUpdates(strategy)) {
    const { samples } = store.roundTotals(round.round);
    const shared = round.splitfed === 'v2' ? sharedNames(fed) : new Set<string>();
    const values = new Map(
      fed.trainables.map((t) => [
        t.name,
        shared.has(t.name)
          ? buffer.read(round.round, SHARED_TAIL_KEY, t.name, 0, numel(t.shape))
          : finalize(store.readAccumulator(round.round, t.name, numel(t.shape)), samples),
      ]),
    );
    const kept = submissions.map((s) => s.deviceId);
    return { values, summary: { strategy: strategy.kind, kept, clipped: [], bound: null } };
  }
  const base = baseValues(store, fed, round);
  // Under secure aggregation the head's deltas arrive as one unmasked sum (the
  // devices clipped and noised them for DP-FedAvg): the strategy aggregates the tail.
  const aggregated = fed.trainables.filter((t) => !maskedSide(fed, t.owner));
  const sizes = new Map(aggregated.map((t) => [t.name, numel(t.shape)]));
  const aggregation = aggregate(
    secure(fed) && strategy.kind === 'dp-fedavg'
      ? { ...strategy, ...tailDp(strategy.clip, strategy.noiseMultiplier) }
      : strategy,
    {
      clients: submissions.map((s) => ({ deviceId: s.deviceId, weight: s.sampleCount, norm: s.norm ?? 0 })),
      deltas: (name, from = 0, to = sizes.get(name)!) => {
        const b = base.get(name)!;
        return submissions.map((s) => {
          const u = buffer.read(round.round, s.deviceId, name, from, to);
          for (let i = 0; i < u.length; i++) u[i] -= b[from + i];
          return u;
        });
      },
    },
    aggregated.map((t) => t.name),
    { sizes, slice: aggregationSlice(submissions.length) },
    { expectedClients: fed.config.clientsPerRound, uniform: cryptoUniform() },
  );
  const values = new Map(
    fed.trainables.map((t) => {
      const b = base.get(t.name)!;
      if (maskedSide(fed, t.owner)) {
        // The unmasked sum of the clipped, noised deltas, divided as DP-FedAvg divides: by the expected clients.
        const sum = store.readAccumulator(round.round, t.name, numel(t.shape));
        const m = fed.config.clientsPerRound;
        return [t.name, Float32Array.from(b, (x, i) => x + sum[i] / m)];
      }
      const d = aggregation.delta(t.name);
      return [t.name, Float32Array.from(b, (x, i) => x + d[i])];
    }),
  );
  const privacy = roundPrivacy(store, fed, store.selected(round.round).length);
  return { values, summary: privacy ? { ...aggregation.summary, privacy } : aggregation.summary };
}

/**
 * Ends a live round: publishes what the strategy makes of the submitted
 * updates as the next version, or fails it (version unchanged). Either way the
 * round counts toward config.rounds; the next one opens, or the federation
 * finishes. A pinned federation records the new version without making it
 * the one rounds start from. A federation that holds back worse versions
 * (config.hold, with an evaluation set) leaves the round `evaluating`
 * instead: the coordinator's alarm scores the candidate and settles it
 * (settleCandidate) before the next round opens.
 */
export function endRound(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  fed: FederationRow,
  round: RoundRow,
  outcome: 'publish' | 'fail',
  now: number,
): void {
  if (outcome === 'fail') {
    logEvent('warn', 'round-closed', {
      federation: fed.id,
      round: round.round,
      status: 'failed',
      participants: store.roundTotals(round.round).participants,
    });
    store.closeRound(round.round, 'failed', now, null);
    store.clearAccumulators(round.round);
    buffer.clear(round.round);
    advance(store, fed, round, now);
    return;
  }
  store.setRoundStatus(round.round, 'aggregating');
  const { values, summary } = aggregateRound(store, buffer, fed, round);
  const version = fed.latestVersion + 1;
  for (const [name, data] of values) store.writeAdapter(version, name, data);
  const gated = fed.config.hold !== undefined && fed.evaluationSet !== null;
  const status = gated ? 'evaluating' : 'published';
  store.insertVersion({ version, round: round.round, status, createdAt: now, evaluation: null });
  store.setLatestVersion(version);
  store.closeRound(round.round, status, now, version, summary);
  logEvent('info', 'round-closed', {
    federation: fed.id,
    round: round.round,
    status,
    version,
    participants: store.roundTotals(round.round).participants,
    epsilon: summary.privacy?.epsilon,
  });
  store.clearAccumulators(round.round);
  buffer.clear(round.round);
  if (gated) return;
  if (!fed.pinned) store.setCurrentVersion(version);
  advance(store, store.federation()!, round, now);
}

/**
 * Settles an `evaluating` round: its version is published (and made current
 * unless the federation is pinned) or held back (recorded, never current),
 * and the federation moves on.
 */
export function settleCandidate(
  store: CoordinatorStore,
  fed: FederationRow,
  round: RoundRow,
  verdict: 'published' | 'held',
  now: number,
): void {
  const version = round.publishedVersion;
  if (round.status !== 'evaluating' || version === null) {
    throw new Error(`round ${round.round} has no candidate to settle`);
  }
  store.setVersionStatus(version, verdict);
  store.setRoundStatus(round.round, verdict);
  logEvent('info', 'round-settled', { federation: fed.id, round: round.round, version, status: verdict });
  if (verdict === 'published' && !fed.pinned) store.setCurrentVersion(version);
  advance(store, store.federation()!, round, now);
}

/**
 * Rolls the federation back to `version`: it becomes current, and a live
 * round that trains from another version is failed (its updates are deltas
 * from the version being abandoned) and a new one opens from `version`.
 * Returns whether rounds moved.
 */
export function rollBack(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  fed: FederationRow,
  version: number,
  now: number,
): boolean {
  store.setCurrentVersion(version);
  const live = fed.currentRound === null ? null : store.round(fed.currentRound);
  if (fed.status !== 'running' || !live || !isLive(live) || live.baseVersion === version) return false;
  store.closeRound(live.round, 'failed', now, null);
  store.clearAccumulators(live.round);
  buffer.clear(live.round);
  advance(store, store.federation()!, live, now);
  return true;
}

/** After `round` closed: the next one opens from the current version, or the federation finishes. */
function advance(store: CoordinatorStore, fed: FederationRow, round: RoundRow, now: number): void {
  const next = Math.min(fed.config.clientsPerRound, store.deviceCount());
  if (round.round + 1 >= fed.config.rounds || exceedsBudget(store, fed, next)) {
    store.setStatus('finished');
    logEvent('info', 'federation-finished', { federation: fed.id, rounds: round.round + 1 });
  } else openRound(store, fed, round.round + 1, now);
}

/**
 * Applies the current round's deadline if it has passed (strategy/decide.ts):
 * publish with whoever submitted if a quorum did, fail otherwise. Run by the
 * alarm, and by every request first, so a late request sees the same outcome
 * the alarm would produce even if the alarm has not fired yet. Returns whether
 * anything changed.
 */
export function closeIfDue(store: CoordinatorStore, buffer: UpdateBuffer, now: number): boolean {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return false;
  const round = store.round(fed.currentRound);
  if (!round || !isLive(round)) return false;
  if (secure(fed)) {
    // The protocol decides: its phases close on their own deadlines, and a
    // done round is unmasked and published by the coordinator (asynchronously).
    const { state, moved } = advanceSecure(store, round, now);
    if (state?.phase !== 'failed') return moved;
    endRound(store, buffer, fed, round, 'fail', now);
    return true;
  }
  const end = roundEnd({
    participants: store.roundTotals(round.round).participants,
    selected: store.selectedStanding(round.round),
    quorum: fed.config.quorum,
    pastDeadline: now >= round.deadline,
  });
  if (!end) return false;
  endRound(store, buffer, fed, round, end, now);
  return true;
}

/** The deadline the object's single alarm should point at, or null when no round is live. */
export function alarmTarget(store: CoordinatorStore): number | null {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return null;
  const round = store.round(fed.currentRound);
  if (round?.status === 'evaluating') {
    // At once, then backing off after each failed attempt (settled anyway after the last).
    const attempts =
      round.publishedVersion === null ? 0 : (store.versionRow(round.publishedVersion)?.attempts ?? 0);
    return (round.closedAt ?? 0) + attempts * EVALUATION_RETRY_MS;
  }
  if (!round || !isLive(round)) return null;
  const masking = secure(fed) ? store.secAgg(round.round) : null;
  return masking ? secureAlarm(masking, round) : round.deadline;
}

/** The round waiting for its candidate version to be scored, if any. */
export function evaluatingRound(store: CoordinatorStore): { fed: FederationRow; round: RoundRow } | null {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return null;
  const round = store.round(fed.currentRound);
  return round?.status === 'evaluating' ? { fed, round } : null;
}
