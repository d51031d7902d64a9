// Round transitions. Each function runs inside the caller's synchronous
// SQLite transaction, so a round is never seen half-closed: publishing the
// new version, closing the round and opening the next one commit together.
import { finalize } from '../../strategy/fedavg.js';
import { selectDevices } from '../../strategy/select.js';
import type { CoordinatorStore, FederationRow, RoundRow } from './storage.js';
import { numel } from './update.js';

export const isLive = (r: RoundRow): boolean => r.status === 'open' || r.status === 'training';

/** Opens `round` from the latest published version with a fresh seeded selection. */
export function openRound(store: CoordinatorStore, fed: FederationRow, round: number, now: number): void {
  const selected = selectDevices(store.deviceIds(), fed.config.clientsPerRound, fed.config.seed, round);
  const deadline = now + Math.max(1, Math.round(fed.config.roundDeadlineSeconds * 1000));
  store.insertRound({ round, baseVersion: fed.latestVersion, openedAt: now, deadline }, selected);
  store.setCurrentRound(round);
}

/**
 * Ends a live round: publishes the weighted mean of what was submitted as the
 * next version, or fails it (version unchanged). Either way the round counts
 * toward config.rounds; the next one opens, or the federation finishes.
 */
export function endRound(
  store: CoordinatorStore,
  fed: FederationRow,
  round: RoundRow,
  outcome: 'publish' | 'fail',
  now: number,
): void {
  let latest = fed.latestVersion;
  if (outcome === 'publish') {
    store.setRoundStatus(round.round, 'aggregating');
    const { samples } = store.roundTotals(round.round);
    latest += 1;
    for (const t of fed.trainables) {
      store.writeAdapter(
        latest,
        t.name,
        finalize(store.readAccumulator(round.round, t.name, numel(t.shape)), samples),
      );
    }
    store.setLatestVersion(latest);
    store.closeRound(round.round, 'published', now, latest);
  } else {
    store.closeRound(round.round, 'failed', now, null);
  }
  store.clearAccumulators(round.round);
  if (round.round + 1 >= fed.config.rounds) store.setStatus('finished');
  else openRound(store, { ...fed, latestVersion: latest }, round.round + 1, now);
}

/**
 * Applies the current round's deadline if it has passed: publish with whoever
 * submitted if a quorum did, fail otherwise. Run by the alarm, and by every
 * request first, so a late request sees the same outcome the alarm would
 * produce even if the alarm has not fired yet. Returns whether anything changed.
 */
export function closeIfDue(store: CoordinatorStore, now: number): boolean {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return false;
  const round = store.round(fed.currentRound);
  if (!round || !isLive(round) || now < round.deadline) return false;
  const { participants } = store.roundTotals(round.round);
  endRound(store, fed, round, participants >= fed.config.quorum ? 'publish' : 'fail', now);
  return true;
}

/** The deadline the object's single alarm should point at, or null when no round is live. */
export function alarmTarget(store: CoordinatorStore): number | null {
  const fed = store.federation();
  if (fed?.status !== 'running' || fed.currentRound === null) return null;
  const round = store.round(fed.currentRound);
  return round && isLive(round) ? round.deadline : null;
}
