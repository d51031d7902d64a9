// One secure-aggregation round run in memory between SecAggClients and the
// server functions, with members dropping out at chosen phases. The state is
// passed through JSON at every step, as the coordinator stores it.
import { SecAggClient } from '../../../protocol/secagg/client.js';
import { addInto } from '../../../protocol/secagg/ring.js';
import {
  admitMasked,
  advancePhases,
  advertise,
  newSecAgg,
  postReveal,
  postShares,
  recordMasked,
  type SecAggState,
  statusFor,
  unmaskSum,
} from '../../../protocol/secagg/server.js';

export interface Dropouts {
  /** Never advertise keys. */
  keys?: readonly string[];
  /** Advertise, never share. */
  shares?: readonly string[];
  /** Share, never send the masked update. */
  masked?: readonly string[];
  /** Send the masked update, never reveal. */
  unmask?: readonly string[];
}

export const FRACTIONAL_BITS = 24;

// A call, so the check is not narrowed away after the phase functions changed the state.
const failed = (state: SecAggState) => state.phase === 'failed';

export async function runRound(
  inputs: ReadonlyMap<string, Float64Array>,
  threshold: number,
  drop: Dropouts = {},
): Promise<{ state: SecAggState; sum: Float64Array | null; masked: Map<string, Float64Array> }> {
  const ids = [...inputs.keys()];
  const length = inputs.values().next().value!.length;
  let state = newSecAgg('fed/round-0', ids, threshold, { keys: 1, shares: 2, masked: 3, unmask: 4 });
  const persist = () => {
    state = JSON.parse(JSON.stringify(state));
  };
  // Dropped members' phases close at their deadline: "now" moves past it.
  let now = 0;
  const closePhase = () => {
    const before = state.phase;
    if (!advancePhases(state, now) && before !== 'failed' && before !== 'done') {
      now = state.deadlines[before as keyof typeof state.deadlines];
      advancePhases(state, now);
    }
    persist();
  };
  const clients = new Map(
    await Promise.all(ids.map(async (id) => [id, await SecAggClient.create(id, state.context)] as const)),
  );
  const masked = new Map<string, Float64Array>();
  for (const id of ids) {
    if (drop.keys?.includes(id)) continue;
    const refused = advertise(state, id, clients.get(id)!.keys());
    if (refused) throw new Error(refused.detail);
  }
  closePhase();
  if (failed(state)) return { state, sum: null, masked };
  for (const id of state.roster!) {
    if (drop.shares?.includes(id)) continue;
    const status = statusFor(state, id);
    const refused = postShares(state, id, await clients.get(id)!.shares(status.roster!, status.threshold));
    if (refused) throw new Error(refused.detail);
  }
  closePhase();
  if (failed(state)) return { state, sum: null, masked };
  const sum = new Float64Array(length);
  for (const id of state.sharers!) {
    const status = statusFor(state, id);
    const y = await clients.get(id)!.mask(inputs.get(id)!, status.sharers!, status.inbox!, FRACTIONAL_BITS);
    if (drop.masked?.includes(id)) continue;
    const refused = admitMasked(state, id);
    if (refused) throw new Error(refused.detail);
    addInto(sum, y);
    recordMasked(state, id);
    masked.set(id, y);
  }
  closePhase();
  if (failed(state)) return { state, sum: null, masked };
  for (const id of state.survivors!) {
    if (drop.unmask?.includes(id)) continue;
    const refused = postReveal(state, id, clients.get(id)!.unmask(statusFor(state, id).survivors!));
    if (refused) throw new Error(refused.detail);
  }
  closePhase();
  if (failed(state)) return { state, sum: null, masked };
  return { state, sum: await unmaskSum(state, sum, FRACTIONAL_BITS), masked };
}
