// What the coordinator pushes to operators watching it (protocol/events.ts).
// Rather than have every transition in rounds.ts announce itself, the object
// marks where the federation stood before a change and derives the events
// from the difference afterwards: one place knows what a watcher hears, and
// a transition added later is announced without being told to.
import type { FederationEvent, RoundCause } from '../../protocol/events.js';
import { federationState, roundRecord, versionRecord } from './records.js';
import type { CoordinatorStore, RoundRow } from './storage.js';

/** Where the federation stood: enough to tell what changed. */
export interface Mark {
  status: string;
  round: number | null;
  roundStatus: string | null;
  joined: number;
  participants: number;
}

export function markOf(store: CoordinatorStore): Mark | null {
  if (!store.exists()) return null;
  const fed = store.federation()!;
  const round = fed.currentRound === null ? null : store.round(fed.currentRound);
  return {
    status: fed.status,
    round: round?.round ?? null,
    roundStatus: round?.status ?? null,
    joined: round ? store.joined(round.round).length : 0,
    participants: round ? store.roundTotals(round.round).participants : 0,
  };
}

const SETTLED = new Set(['published', 'held']);

/** Why the round `before` described moved to `row`'s status, if it did. */
function causeOf(before: Mark, row: RoundRow, now: Mark): RoundCause | null {
  if (row.status !== before.roundStatus) {
    if (before.roundStatus === 'evaluating' && SETTLED.has(row.status)) return 'settled';
    if (row.status !== 'training') return 'closed';
  }
  if (before.round !== now.round) return null;
  if (now.participants > before.participants) return 'submitted';
  if (now.joined > before.joined) return 'joined';
  return null;
}

/** The events between `before` and now, in the order they happened. */
export function eventsSince(
  store: CoordinatorStore,
  before: Mark | null,
  at: number,
  deviceId?: string,
): FederationEvent[] {
  const now = markOf(store);
  if (!now) return [];
  if (!before) return [{ type: 'snapshot', at, state: federationState(store, store.federation()!) }];
  const events: FederationEvent[] = [];
  const announce = (row: RoundRow, cause: RoundCause, by?: string) => {
    events.push({
      type: 'round',
      at,
      cause,
      ...(by ? { deviceId: by } : {}),
      deadline: row.deadline,
      round: roundRecord(store, row, store.roundTotals(row.round)),
    });
    const version = row.publishedVersion === null ? null : store.versionRow(row.publishedVersion);
    if (version && (cause === 'closed' || cause === 'settled')) {
      events.push({ type: 'version', at, version: versionRecord(version) });
    }
  };
  if (before.round !== null) {
    const row = store.round(before.round);
    const cause = row && causeOf(before, row, now);
    if (row && cause)
      announce(row, cause, cause === 'joined' || cause === 'submitted' ? deviceId : undefined);
  }
  for (let r = (before.round ?? -1) + 1; now.round !== null && r <= now.round; r++) {
    const row = store.round(r);
    if (row) announce(row, 'opened');
  }
  if (now.status !== before.status && (now.status === 'finished' || now.status === 'closed')) {
    events.push({ type: 'finished', at, state: federationState(store, store.federation()!) });
  }
  return events;
}
