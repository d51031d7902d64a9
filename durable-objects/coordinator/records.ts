// The public views of the stored state (protocol/federation.ts shapes).
import type { FederationState, RoundRecord, VersionRecord } from '../../protocol/federation.js';
import { privacyState } from './privacy.js';
import {
  type CoordinatorStore,
  EMPTY_TOTALS,
  type FederationRow,
  type RoundRow,
  type RoundTotals,
  type VersionRow,
} from './storage.js';

export function roundRecord(store: CoordinatorStore, round: RoundRow, totals: RoundTotals): RoundRecord {
  const { samples } = totals;
  return {
    round: round.round,
    status: round.status,
    selected: store.selected(round.round),
    joined: store.joined(round.round),
    participants: totals.participants,
    samples,
    meanLoss: samples > 0 ? totals.weightedLoss / samples : null,
    clientAccuracy: samples > 0 ? totals.weightedAccuracy / samples : null,
    uplinkBytes: totals.uplinkBytes,
    downlinkBytes: totals.downlinkBytes,
    openedAt: round.openedAt,
    closedAt: round.closedAt,
    publishedVersion: round.publishedVersion,
    splitfed: round.splitfed,
    plan: round.plan,
    aggregation: round.aggregation
      ? {
          strategy: round.aggregation.strategy,
          kept: round.aggregation.kept,
          clipped: round.aggregation.clipped,
          bound: round.aggregation.bound,
          ...(round.aggregation.noiseStd != null ? { noiseStd: round.aggregation.noiseStd } : {}),
          ...(round.aggregation.privacy ? { privacy: round.aggregation.privacy } : {}),
        }
      : null,
  };
}

export function history(store: CoordinatorStore): RoundRecord[] {
  const totals = store.totals();
  return store.rounds().map((r) => roundRecord(store, r, totals.get(r.round) ?? EMPTY_TOTALS));
}

function tailTimes(store: CoordinatorStore): { tailMsPerSample?: Record<string, number> } {
  const times = store.tailMsPerSample();
  return times.size > 0 ? { tailMsPerSample: Object.fromEntries(times) } : {};
}

export function federationState(store: CoordinatorStore, fed: FederationRow): FederationState {
  const round = fed.currentRound === null ? null : store.round(fed.currentRound);
  return {
    id: fed.id,
    config: fed.config,
    cut: fed.cut,
    trainables: fed.trainables,
    // A federation that exists but has not started is running with no round yet.
    status: fed.status === 'created' ? 'running' : fed.status,
    devices: store.deviceCount(),
    currentRound: round ? roundRecord(store, round, store.roundTotals(round.round)) : null,
    latestVersion: fed.latestVersion,
    currentVersion: fed.currentVersion,
    pinned: fed.pinned,
    evaluationSet: fed.evaluationSet,
    privacy: privacyState(store, fed),
    ...tailTimes(store),
  };
}

export function versionRecord({ attempts: _, ...v }: VersionRow): VersionRecord {
  return v;
}

/** GET …/versions: every version, and where `latest` points. */
export interface VersionsView {
  currentVersion: number;
  latestVersion: number;
  pinned: boolean;
  versions: VersionRecord[];
}

export function versionsView(store: CoordinatorStore, fed: FederationRow): VersionsView {
  return {
    currentVersion: fed.currentVersion,
    latestVersion: fed.latestVersion,
    pinned: fed.pinned,
    versions: store.versionRows().map(versionRecord),
  };
}
