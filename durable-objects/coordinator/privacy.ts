// The coordinator's privacy ledger for DP-FedAvg federations: each published
// round records its sampling rate and the ε spent by every round so far
// (strategy/privacy/accountant.ts); a federation with an ε budget finishes
// rather than open a round that would exceed it.
import type { FederationState, RoundPrivacy, StrategyConfig } from '../../protocol/federation.js';
import { epsilonSpent, type PrivateRound } from '../../strategy/index.js';
import type { CoordinatorStore, FederationRow } from './storage.js';

type DpConfig = Extract<StrategyConfig, { kind: 'dp-fedavg' }>;

const dpOf = (fed: FederationRow): DpConfig | null =>
  fed.config.strategy.kind === 'dp-fedavg' ? fed.config.strategy : null;

/** The rounds that released a DP aggregate so far, oldest first. */
function ledger(store: CoordinatorStore): PrivateRound[] {
  return store.rounds().flatMap((r) => (r.aggregation?.privacy ? [r.aggregation.privacy] : []));
}

/**
 * The sampling rate of a round selecting `selected` of the enrolled devices.
 * The accountant's Poisson analysis is applied to this fixed-size draw.
 */
const rate = (selected: number, enrolled: number): number =>
  enrolled > 0 ? Math.min(1, selected / enrolled) : 1;

/** The ledger entry of a round about to publish: its rate and ε after it. */
export function roundPrivacy(
  store: CoordinatorStore,
  fed: FederationRow,
  selected: number,
): RoundPrivacy | undefined {
  const dp = dpOf(fed);
  if (!dp) return undefined;
  const round = { samplingRate: rate(selected, store.deviceCount()), noiseMultiplier: dp.noiseMultiplier };
  return { ...round, epsilon: epsilonSpent([...ledger(store), round], dp.delta), delta: dp.delta };
}

/** Whether one more round, selecting `selected` devices, would spend more than the federation's budget. */
export function exceedsBudget(store: CoordinatorStore, fed: FederationRow, selected: number): boolean {
  const dp = dpOf(fed);
  if (!dp || dp.epsilonBudget === undefined) return false;
  const next = { samplingRate: rate(selected, store.deviceCount()), noiseMultiplier: dp.noiseMultiplier };
  return epsilonSpent([...ledger(store), next], dp.delta) > dp.epsilonBudget;
}

/** The federation state's privacy part: ε so far, the budget, and whether it stopped the federation. */
export function privacyState(store: CoordinatorStore, fed: FederationRow): FederationState['privacy'] {
  const dp = dpOf(fed);
  if (!dp) return null;
  const spent = ledger(store);
  const epsilon = spent.length === 0 ? 0 : epsilonSpent(spent, dp.delta);
  // advance() finishes a federation early only for its budget; otherwise at config.rounds.
  const early = fed.status === 'finished' && (fed.currentRound ?? -1) + 1 < fed.config.rounds;
  return { epsilon, delta: dp.delta, epsilonBudget: dp.epsilonBudget ?? null, exhausted: early };
}
