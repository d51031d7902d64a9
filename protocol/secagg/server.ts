// The coordinator's side of secure aggregation, as pure functions over a
// JSON-serializable state (the coordinator stores it with the round) plus
// the running masked sum, which is all it ever holds of the devices'
// updates. Phases, each closed when every expected member has acted or at
// its deadline, and failed when fewer than `threshold` did:
//   keys    selected members advertise two public keys        → roster (U1)
//   shares  each roster member seals a share for every other  → sharers (U2)
//   masked  each sharer's masked update is added to the sum   → survivors (U3)
//   unmask  survivors reveal self-mask shares of survivors and mask-key
//           shares of sharers that dropped; with `threshold` reveals the
//           masks are rebuilt and taken off the sum              → done
import { combine } from 'shamir-secret-sharing';
import { maskSign, SECRET_BYTES, SEED_BYTES } from './client.js';
import { agree, importPrivate } from './keys.js';
import { expandMask } from './prg.js';
import { addInto, decodeFixed } from './ring.js';
import {
  fromBase64,
  type MemberKeys,
  type SecAggPhase,
  type SecAggStatus,
  type SharesBody,
  type UnmaskBody,
} from './wire.js';

export interface PhaseDeadlines {
  keys: number;
  shares: number;
  masked: number;
  unmask: number;
}

export interface SecAggState {
  /** Binds keys and shares to one federation's round. */
  context: string;
  /** The round's selected devices, sorted. */
  members: string[];
  threshold: number;
  phase: SecAggPhase;
  deadlines: PhaseDeadlines;
  keys: Record<string, MemberKeys>;
  roster: string[] | null;
  shares: Record<string, SharesBody['shares']>;
  sharers: string[] | null;
  masked: string[];
  survivors: string[] | null;
  reveals: Record<string, UnmaskBody>;
  /** Why the round's secure aggregation failed, once it has. */
  failure: string | null;
}

/** A refusal of a member's message: a stable reason and what to tell it. */
export interface Refusal {
  reason: 'not-a-member' | 'wrong-phase' | 'conflict' | 'invalid';
  detail: string;
}

/** The smallest threshold a round may run with, and what `fraction` of the selected devices means in members. */
export function thresholdFor(selected: number, fraction: number): number {
  return Math.max(2, Math.ceil(selected * fraction));
}

export function newSecAgg(
  context: string,
  members: readonly string[],
  threshold: number,
  deadlines: PhaseDeadlines,
): SecAggState {
  const sorted = [...members].sort();
  return {
    context,
    members: sorted,
    threshold,
    phase: sorted.length < threshold ? 'failed' : 'keys',
    deadlines,
    keys: {},
    roster: null,
    shares: {},
    sharers: null,
    masked: [],
    survivors: null,
    reveals: {},
    failure:
      sorted.length < threshold ? `${sorted.length} selected, fewer than the threshold ${threshold}` : null,
  };
}

const refuse = (reason: Refusal['reason'], detail: string): Refusal => ({ reason, detail });
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const sameSet = (a: Iterable<string>, b: readonly string[]) => {
  const s = [...a].sort();
  return s.length === b.length && s.every((x, i) => x === [...b].sort()[i]);
};

function inPhase(state: SecAggState, phase: SecAggPhase): Refusal | null {
  return state.phase === phase
    ? null
    : refuse('wrong-phase', `secure aggregation is in phase ${state.phase}, not ${phase}`);
}

function bytesOf(text: string, length: number): boolean {
  const b = fromBase64(text);
  return b !== null && b.length === length;
}

/** A selected member's public keys. A retry with the same keys is accepted again. */
export function advertise(state: SecAggState, member: string, keys: MemberKeys): Refusal | null {
  if (!state.members.includes(member)) return refuse('not-a-member', `${member} is not selected`);
  const prior = state.keys[member];
  if (prior)
    return sameJson(prior, keys) ? null : refuse('conflict', `${member} already advertised other keys`);
  const wrong = inPhase(state, 'keys');
  if (wrong) return wrong;
  if (!bytesOf(keys.cipherKey, 32) || !bytesOf(keys.maskKey, 32)) {
    return refuse('invalid', 'public keys are 32 bytes each');
  }
  state.keys[member] = keys;
  return null;
}

/** A roster member's sealed shares: exactly one for every other roster member. */
export function postShares(state: SecAggState, member: string, body: SharesBody): Refusal | null {
  const prior = state.shares[member];
  if (prior) return sameJson(prior, body.shares) ? null : refuse('conflict', `${member} already shared`);
  const wrong = inPhase(state, 'shares');
  if (wrong) return wrong;
  const roster = state.roster!;
  if (!roster.includes(member)) return refuse('not-a-member', `${member} is not on the roster`);
  const others = roster.filter((m) => m !== member);
  if (!sameSet(Object.keys(body.shares), others)) {
    return refuse('invalid', `expected one share for each of ${others.join(', ')}`);
  }
  for (const [to, sealed] of Object.entries(body.shares)) {
    if (!bytesOf(sealed, 12 + SECRET_BYTES + 1 + 16))
      return refuse('invalid', `the share for ${to} is malformed`);
  }
  state.shares[member] = body.shares;
  return null;
}

/** Whether `member` may add a masked update now; the caller adds it to the sum when this returns null. */
export function admitMasked(state: SecAggState, member: string): Refusal | null {
  if (state.masked.includes(member))
    return refuse('conflict', `${member}'s masked update is already in the sum`);
  const wrong = inPhase(state, 'masked');
  if (wrong) return wrong;
  if (!state.sharers!.includes(member)) {
    return refuse('not-a-member', `${member} did not share its secrets in time and cannot join the sum`);
  }
  return null;
}

export function recordMasked(state: SecAggState, member: string): void {
  state.masked.push(member);
}

/** A survivor's reveals: a self-mask share for every survivor, a mask-key share for every sharer that dropped. */
export function postReveal(state: SecAggState, member: string, body: UnmaskBody): Refusal | null {
  const prior = state.reveals[member];
  if (prior) return sameJson(prior, body) ? null : refuse('conflict', `${member} already revealed`);
  const wrong = inPhase(state, 'unmask');
  if (wrong) return wrong;
  const survivors = state.survivors!;
  if (!survivors.includes(member)) return refuse('not-a-member', `${member} is not a survivor`);
  const dropped = state.sharers!.filter((m) => !survivors.includes(m));
  if (!sameSet(Object.keys(body.selfMasks), survivors) || !sameSet(Object.keys(body.maskKeys), dropped)) {
    return refuse(
      'invalid',
      'expected self-mask shares of exactly the survivors and mask-key shares of exactly the dropped',
    );
  }
  for (const s of Object.values(body.selfMasks))
    if (!bytesOf(s, SEED_BYTES + 1)) return refuse('invalid', 'malformed self-mask share');
  for (const s of Object.values(body.maskKeys))
    if (!bytesOf(s, SECRET_BYTES - SEED_BYTES + 1)) return refuse('invalid', 'malformed mask-key share');
  state.reveals[member] = body;
  return null;
}

/** Who the current phase waits for, and who has acted. */
function progress(state: SecAggState): { expected: readonly string[]; acted: number } | null {
  switch (state.phase) {
    case 'keys':
      return { expected: state.members, acted: Object.keys(state.keys).length };
    case 'shares':
      return { expected: state.roster!, acted: Object.keys(state.shares).length };
    case 'masked':
      return { expected: state.sharers!, acted: state.masked.length };
    case 'unmask':
      return { expected: state.survivors!, acted: Object.keys(state.reveals).length };
    default:
      return null;
  }
}

/**
 * Closes every phase that is complete, or whose deadline has passed, in turn.
 * A phase that closes with fewer than `threshold` members fails the round's
 * secure aggregation. Returns whether the phase changed.
 */
export function advancePhases(state: SecAggState, now: number): boolean {
  const start = state.phase;
  for (;;) {
    const p = progress(state);
    if (!p) break;
    const phase = state.phase as keyof PhaseDeadlines;
    if (p.acted < p.expected.length && now < state.deadlines[phase]) break;
    if (p.acted < state.threshold) {
      state.failure = `phase ${phase} closed with ${p.acted} of ${p.expected.length} members, fewer than the threshold ${state.threshold}`;
      state.phase = 'failed';
      break;
    }
    if (phase === 'keys') {
      state.roster = Object.keys(state.keys).sort();
      state.phase = 'shares';
    } else if (phase === 'shares') {
      state.sharers = Object.keys(state.shares).sort();
      state.phase = 'masked';
    } else if (phase === 'masked') {
      state.survivors = [...state.masked].sort();
      state.phase = 'unmask';
    } else {
      state.phase = 'done';
    }
  }
  return state.phase !== start;
}

/** The deadline of the phase in progress, or null when none is. */
export function phaseDeadline(state: SecAggState): number | null {
  const phase = state.phase;
  return phase in state.deadlines ? state.deadlines[phase as keyof PhaseDeadlines] : null;
}

/** What `member` sees of the round. */
export function statusFor(state: SecAggState, member: string): SecAggStatus {
  const status: SecAggStatus = {
    phase: state.phase,
    threshold: state.threshold,
    phaseDeadline: phaseDeadline(state) ?? state.deadlines.unmask,
  };
  if (state.roster) status.roster = Object.fromEntries(state.roster.map((m) => [m, state.keys[m]]));
  if (state.sharers) {
    status.sharers = state.sharers;
    status.inbox = Object.fromEntries(
      state.sharers
        .filter((m) => m !== member)
        .flatMap((m) => {
          const sealed = state.shares[m]?.[member];
          return sealed === undefined ? [] : [[m, sealed]];
        }),
    );
  }
  if (state.survivors) status.survivors = state.survivors;
  return status;
}

/**
 * The sum of the survivors' fixed-point inputs, as reals: the masked sum
 * with every survivor's self mask taken off and every dropped sharer's
 * pairwise masks with the survivors undone. Throws when the reveals do not
 * reconstruct (a share that was tampered with gives a key that fails to
 * import, or masks that leave garbage, which no check here can tell).
 */
export async function unmaskSum(
  state: SecAggState,
  maskedSum: Float64Array,
  fractionalBits: number,
): Promise<Float64Array> {
  if (state.phase !== 'done') throw new Error(`cannot unmask in phase ${state.phase}`);
  const survivors = state.survivors!;
  const dropped = state.sharers!.filter((m) => !survivors.includes(m));
  const reveals = Object.values(state.reveals);
  const sum = Float64Array.from(maskedSum);
  const sharesOf = (pick: (r: UnmaskBody) => Record<string, string>, member: string) =>
    reveals.map((r) => fromBase64(pick(r)[member])!);
  for (const member of survivors) {
    const seed = await combine(sharesOf((r) => r.selfMasks, member));
    addInto(sum, await expandMask(seed as Uint8Array<ArrayBuffer>, sum.length), -1);
  }
  for (const gone of dropped) {
    const key = await importPrivate(
      (await combine(sharesOf((r) => r.maskKeys, gone))) as Uint8Array<ArrayBuffer>,
    );
    for (const member of survivors) {
      const seed = await agree(key, fromBase64(state.keys[member].maskKey)!, 'mask', state.context);
      // The survivor added maskSign(member, gone) times this mask; take it off.
      addInto(sum, await expandMask(seed, sum.length), maskSign(member, gone) === 1 ? -1 : 1);
    }
  }
  return decodeFixed(sum, fractionalBits);
}
