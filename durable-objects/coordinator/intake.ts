// An update's way into a round: checked against what the server observed and
// the federation's bounds before anything is kept, then folded into the
// round's FedAvg sums or kept whole for a strategy that needs every update.
// A refusal changes nothing, so the device may fix its update and submit again.

import { accumulate } from '../../strategy/fedavg.js';
import { deltaNorm, keepsUpdates, refusal } from '../../strategy/index.js';
import { fail, type RpcFailure } from '../rpc.js';
import type { UpdateBuffer } from './buffer.js';
import type { CoordinatorStore, FederationRow, RoundRow } from './storage.js';
import { numel } from './update.js';

export interface Intake {
  /** The device's claim (the update's metadata). */
  claimedSamples: number;
  /** What its session counted: the labels of every step it applied. The update's weight. */
  observedSamples: number;
  /** Every trainable's new values, both sides. */
  values: ReadonlyMap<string, Float32Array>;
  /** A shared tail's round (SplitFed V2): the steps the tail had taken when its values were read. */
  sharedTailSteps?: number;
}

/**
 * Where a shared tail's latest reading is kept in the update buffer: not a
 * device id ('~' is not allowed in one), so it never meets a device's update.
 */
export const SHARED_TAIL_KEY = '~shared-tail';

/** The round's starting version, every trainable. */
export function baseValues(
  store: CoordinatorStore,
  fed: FederationRow,
  round: RoundRow,
): Map<string, Float32Array> {
  return new Map(
    fed.trainables.map((t) => {
      const v = store.readAdapter(round.baseVersion, t.name, numel(t.shape));
      if (!v) throw new Error(`version ${round.baseVersion} lacks ${t.name}`);
      return [t.name, v];
    }),
  );
}

/** Checks an update; answers its delta norm, or why it is refused (422 invalid-update with a code). */
export function check(
  store: CoordinatorStore,
  fed: FederationRow,
  round: RoundRow,
  update: Intake,
): { ok: true; norm: number } | RpcFailure {
  if (update.observedSamples <= 0) {
    return fail('invalid-update', 'The session observed no training steps: there is nothing to submit.', {
      extensions: { code: 'no-steps' },
    });
  }
  if (update.claimedSamples !== update.observedSamples) {
    return fail(
      'invalid-update',
      `The update claims ${update.claimedSamples} samples; its session observed ${update.observedSamples}.`,
      { extensions: { code: 'sample-count-mismatch', observed: update.observedSamples } },
    );
  }
  const norm = deltaNorm(update.values, baseValues(store, fed, round));
  const refused = refusal(fed.config.updateBound, update.values, norm);
  if (refused) return fail('invalid-update', refused.detail, { extensions: { code: refused.code } });
  return { ok: true, norm };
}

/** Keeps an accepted update for the round's aggregation (inside the caller's transaction). */
export function keep(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  fed: FederationRow,
  round: RoundRow,
  deviceId: string,
  update: Intake,
): void {
  if (keepsUpdates(fed.config.strategy)) {
    buffer.put(round.round, deviceId, update.values);
    return;
  }
  const shared = round.splitfed === 'v2' ? sharedNames(fed) : new Set<string>();
  if (shared.size > 0) keepSharedTail(store, buffer, round, update, shared);
  for (const [name, data] of update.values) {
    if (shared.has(name)) continue;
    const acc = store.readAccumulator(round.round, name, data.length);
    accumulate(acc, data, update.observedSamples);
    store.writeAccumulator(round.round, name, acc);
  }
}

/** The trainables a shared tail holds: the tail's. */
export const sharedNames = (fed: FederationRow): Set<string> =>
  new Set(fed.trainables.filter((t) => t.owner === 'tail').map((t) => t.name));

/**
 * A shared tail is not averaged: every device's steps already moved the one
 * tail. What the round publishes is the reading with the most steps, the
 * latest state any submission saw (readings taken in one order may arrive
 * in another).
 */
function keepSharedTail(
  store: CoordinatorStore,
  buffer: UpdateBuffer,
  round: RoundRow,
  update: Intake,
  names: ReadonlySet<string>,
): void {
  const steps = update.sharedTailSteps;
  if (steps === undefined) throw new Error('a shared-tail round took an update without its tail reading');
  if (round.sharedTailSteps !== null && steps <= round.sharedTailSteps) return;
  buffer.drop(round.round, SHARED_TAIL_KEY);
  buffer.put(round.round, SHARED_TAIL_KEY, new Map([...update.values].filter(([n]) => names.has(n))));
  store.setSharedTailSteps(round.round, steps);
}
