// Round transitions. Each function runs inside the caller's synchronous
// SQLite transaction, so a round is never seen half-closed: publishing the
// new version, closing the round and opening the next one commit together.
import {
  type AggregationSummary,
  aggregate,
  finalize,
  keepsUpdates,
  roundEnd,
  selectDevices,
} from '../../strategy/index.js';
import { aggregationSlice, type UpdateBuffer } from './buffer.js';
import { baseValues } from './intake.js';
import type { CoordinatorStore, FederationRow, RoundRow } from './storage.js';
import { numel } from './update.js';

export const isLive = (r: RoundRow): boolean => r.status === 'open' || r.status === 'training';

/** Opens `round` from the current version with a fresh seeded selection. */
export function openRound(store: CoordinatorStore, fed: FederationRow, round: number, now: number): void {
  const selected = selectDevices(store.deviceIds(), fed.config.clientsPerRound, fed.config.seed, round);
  const deadline = now + Math.max(1, Math.round(fed.config.roundDeadlineSeconds * 1000));
  store.insertRound({ round, baseVersion: fed.currentVersion, openedAt: now, deadline }, selected);
  store.setCurrentRound(round);
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
    const values = new Map(
      fed.trainables.map((t) => [
        t.name,
        finalize(store.readAccumulator(round.round, t.name, numel(t.shape)), samples),
      ]),
    );
    const kept = submissions.map((s) => s.deviceId);
    return { values, summary: { strategy: strategy.kind, kept, clipped: [], bound: null } };
  }
  const base = baseValues(store, fed, round);
  const sizes = new Map(fed.trainables.map((t) => [t.name, numel(t.shape)]));
  const aggregation = aggregate(
    strategy,
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
    fed.trainables.map((t) => t.name),
    { sizes, slice: aggregationSlice(submissions.length) },
  );
  const values = new Map(
    fed.trainables.map((t) => {
      const b = base.get(t.name)!;
      const d = aggregation.delta(t.name);
      return [t.name, Float32Array.from(b, (x, i) => x + d[i])];
    }),
  );
  return { values, summary: aggregation.summary };
}

/**
 * Ends a live round: publishes what the strategy makes of the submitted
 * updates as the next version, or fails it (version unchanged). Either way the
 * round counts toward config.rounds; the next one opens, or the federation
 * finishes. A pinned federation records the new version without making it
 * the one rounds start from.
 */
export function endRound(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  fed: FederationRow,
  round: RoundRow,
  outcome: 'publish' | 'fail',
  now: number,
): void {
  let current = fed.currentVersion;
  if (outcome === 'publish') {
    store.setRoundStatus(round.round, 'aggregating');
    const { values, summary } = aggregateRound(store, buffer, fed, round);
    const version = fed.latestVersion + 1;
    for (const [name, data] of values) store.writeAdapter(version, name, data);
    store.insertVersion({
      version,
      round: round.round,
      status: 'published',
      createdAt: now,
      evaluation: null,
    });
    store.setLatestVersion(version);
    if (!fed.pinned) {
      current = version;
      store.setCurrentVersion(version);
    }
    store.closeRound(round.round, 'published', now, version, summary);
  } else {
    store.closeRound(round.round, 'failed', now, null);
  }
  store.clearAccumulators(round.round);
  buffer.clear(round.round);
  if (round.round + 1 >= fed.config.rounds) store.setStatus('finished');
  else openRound(store, { ...fed, currentVersion: current }, round.round + 1, now);
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
  const end = roundEnd({
    participants: store.roundTotals(round.round).participants,
    selected: store.selectedStanding(round.round),
    quorum: fed.config.quorum,
    pastDeadline: now >= round.deadline,
  });
  if (!end || now < round.deadline) return false;
  endRound(store, buffer, fed, round, end, now);
  return true;
}

/** The deadline the object's single alarm should point at, or null when no round is live. */
export function alarmTarget(store: CoordinatorStore): number | null {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return null;
  const round = store.round(fed.currentRound);
  return round && isLive(round) ? round.deadline : null;
}
