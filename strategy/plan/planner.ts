// The "configure" half of the strategy for a heterogeneous fleet: each
// selected device's cut, uplink and downlink encoding and share of the
// declared uplink budget, minimizing
//
//     round latency (the slowest device, s) + λ · device energy (sum, J)
//
// subject to the round deadline, Σ shares ≤ 1, each device's own link rate,
// memory and the federation's privacy floor.
//
// How it is solved:
// - For a fixed round latency T and fixed discrete choices the shares are a
//   convex problem: each device needs at least the rate that finishes it by
//   T, and transmit energy falls as 1/share, so the optimal shares are
//   b_i = clamp(√(λ·P_radio·bits_i / (B·μ)), needed_i, link_i) with the
//   multiplier μ of Σ b ≤ 1 found by bisection (water-filling).
// - The discrete choices are made with the same multiplier: relaxing Σ b ≤ 1
//   into the price μ·b makes devices independent, so each picks its best cut
//   and encodings in closed form (Lagrangian relaxation), and bisection on μ
//   finds the cheapest price that fits the budget.
// - T itself is one scalar: the objective is searched over [T_min, deadline]
//   on a logarithmic grid refined by golden section.
// - A device with a radio model (strategy/plan/radio.ts) has a share of the
//   cell's bandwidth instead of the budget's bits, under the same Σ b ≤ 1,
//   and a transmit power. At T its least-energy power is the least that
//   finishes its upload by T (energy p·slack falls as the slack is used), so
//   power follows from the share; its energy is then convex and decreasing
//   in the share, and at the price μ its best share is the closed-form
//   stationary point (Lambert's W) clamped to where power ≤ P_max. It slots
//   into the same relaxation and the same exact enumeration.
// - With one tail shared by the round (SplitFed V2) the round lasts at least
//   the sum of the devices' tail times: T is searched from there, and each
//   device counts only its own tail time.
// - Every device's choices are first cut to those no other beats on every
//   count (see `undominated`): usually one per cut.
// Where the discrete space is small (choices^devices ≤ EXACT_LIMIT) every
// combination is solved and the best kept: the plan is exact up to the 1-D
// search. Beyond that the relaxation is used ("lagrangian"); its gap comes
// only from devices at a price where two choices tie.
import type { Encoding } from '../../protocol/encoding.js';
import { type Choice, type CutCost, choicesOf, type DeviceProfile, energyJ, latencyS } from './model.js';
import { leastPowerW, type RadioPick, radioPick, shannonRateBps } from './radio.js';

export interface PlanInput {
  devices: readonly DeviceProfile[];
  cuts: readonly CutCost[];
  /** The uplink capacity the operator declares for the site or cell, shared by the round's devices (bits/s). */
  uplinkBudgetBps: number;
  /**
   * The cell's bandwidth (Hz), which devices with a radio model share instead
   * of the budget's bits (a share is of both: Σ shares ≤ 1 over all devices).
   * Needed when any device has one.
   */
  bandwidthHz?: number;
  /** The cell's noise density (W/Hz); thermal, −174 dBm/Hz, by default. */
  noisePsdWPerHz?: number;
  deadlineS: number;
  /** Joules are worth λ seconds. 0: latency only. */
  lambda: number;
  /** Encodings the federation allows (default all). */
  uplink?: readonly Encoding[];
  downlink?: readonly Encoding[];
  /** The privacy floor: the fewest encoder blocks a device must run. */
  minDepth?: number;
  /** Devices the edge trains at once; more share its time (default: no limit). */
  edgeSessions?: number;
  /**
   * One tail serves the round's devices one step at a time (SplitFed V2): each
   * device's steps take its own tail time, and the round lasts at least the
   * sum of them all. `edgeSessions` is then ignored.
   */
  sharedTail?: boolean;
}

export interface DevicePlan {
  deviceId: string;
  cut: string;
  uplink: Encoding;
  downlink: Encoding;
  /** Share of the declared uplink budget, or for a radio device of the cell's bandwidth. */
  share: number;
  rateBps: number;
  /** A radio device's transmit power (W): the least that finishes its upload in its planned time. */
  powerW?: number;
  latencyS: number;
  energyJ: number;
}

export interface Plan {
  devices: DevicePlan[];
  /** The slowest device's seconds. */
  latencyS: number;
  energyJ: number;
  objective: number;
  meetsDeadline: boolean;
  method: 'exact' | 'lagrangian';
}

export class PlanError extends Error {}

/** Largest number of discrete combinations solved one by one. */
export const EXACT_LIMIT = 4096;
const ALL: readonly Encoding[] = ['fp32', 'fp16', 'int8', 'int4', 'int2'];
const MU_STEPS = 24;
const GRID = 16;
const GOLDEN_STEPS = 18;

/** A device and the options it chooses among. */
interface Options {
  device: DeviceProfile;
  choices: Choice[];
  /** Most of the budget a share can use: beyond its own link rate, more share is wasted. */
  cap: number;
}

/** A choice with its share and the power it transmits at (a device without a radio model: its declared radio power). */
interface Pick {
  choice: Choice;
  share: number;
  powerW: number;
}

interface Assignment {
  picks: Pick[];
  total: number;
}

const rateOf = (p: Pick, B: number): number =>
  p.choice.radio ? shannonRateBps(p.choice.radio, p.share, p.powerW) : p.share * B;
const latencyOf = (p: Pick, B: number): number => latencyS(p.choice, rateOf(p, B));
const energyOf = (p: Pick, B: number): number => energyJ(p.choice, rateOf(p, B), p.powerW);

/** Where `assign` has a radio's share and power written. */
const scratch: RadioPick = { share: 0, powerW: 0 };

/** When a choice finishes at a share, a radio's at T (its power is chosen for that). */
const finishS = (c: Choice, share: number, T: number, B: number): number =>
  c.radio && c.uplinkBits > 0 ? T : latencyS(c, share * B);

/** The share a choice takes at round latency T and price μ, or null when it cannot finish by T. */
function shareOf(c: Choice, cap: number, T: number, B: number, lambda: number, mu: number): number | null {
  if (c.uplinkBits === 0) return c.fixedS <= T ? 0 : null;
  const slack = T - c.fixedS;
  if (slack <= 0) return null;
  const needed = c.uplinkBits / (slack * B);
  if (needed > cap * (1 + 1e-12)) return null;
  const weight = (lambda * c.radioW * c.uplinkBits) / B;
  const free = weight > 0 ? (mu > 0 ? Math.sqrt(weight / mu) : cap) : needed;
  return Math.min(cap, Math.max(needed, free));
}

/** Each device's best option at latency T and price μ; null when some device cannot finish by T. */
function assign(
  opts: readonly Options[],
  T: number,
  B: number,
  lambda: number,
  mu: number,
): Assignment | null {
  const picks: Assignment['picks'] = [];
  let total = 0;
  for (const o of opts) {
    // The best so far in locals, not an object per improvement: this loop is the planner's hot path.
    let best: Choice | null = null;
    let bestShare = 0;
    let bestPowerW = 0;
    let bestCost = 0;
    for (const c of o.choices) {
      let share: number;
      let powerW: number;
      let energy: number;
      if (c.radio !== undefined && c.uplinkBits > 0) {
        // A radio's least-energy power finishes its upload at T exactly.
        const slack = T - c.fixedS;
        if (!(slack > 0) || !radioPick(c.radio, c.uplinkBits / slack, slack, lambda, mu, o.cap, scratch))
          continue;
        share = scratch.share;
        powerW = scratch.powerW;
        energy = c.computeJ + powerW * slack;
      } else {
        const s = shareOf(c, o.cap, T, B, lambda, mu);
        if (s === null) continue;
        share = s;
        powerW = c.radioW;
        energy = energyJ(c, share * B);
      }
      const cost = lambda * energy + mu * share;
      // On a tie (a device with slack, or no power model) the faster option: it moves fewer bytes.
      const tie = best !== null && Math.abs(cost - bestCost) <= 1e-12 * Math.max(1, Math.abs(cost));
      if (
        best === null ||
        (tie ? finishS(c, share, T, B) < finishS(best, bestShare, T, B) : cost < bestCost)
      ) {
        best = c;
        bestShare = share;
        bestPowerW = powerW;
        bestCost = cost;
      }
    }
    if (best === null) return null;
    picks.push({ choice: best, share: bestShare, powerW: bestPowerW });
    total += bestShare;
  }
  return { picks, total };
}

/**
 * The cheapest assignment at latency T that fits the budget: at the smallest
 * price μ that makes Σ shares ≤ 1 (bisection in log μ, started from `hint`,
 * the price found at a nearby T), or null when no price does.
 */
function solveAt(
  opts: readonly Options[],
  T: number,
  B: number,
  lambda: number,
  hint?: { mu: number },
): Assignment | null {
  if (lambda === 0) {
    // Latency only: any positive price makes each device take the least share that finishes it by T.
    const a = assign(opts, T, B, 0, 1);
    return a && a.total <= 1 + 1e-12 ? a : null;
  }
  const free = assign(opts, T, B, lambda, 0);
  if (free === null) return null;
  if (free.total <= 1) return free;
  const fitsAt = (mu: number) => {
    const a = assign(opts, T, B, lambda, mu);
    return a && a.total <= 1 ? a : null;
  };
  let hi = hint?.mu ?? 1;
  let fits = fitsAt(hi);
  for (let i = 0; !fits && i < 40; i++) {
    hi *= 16;
    fits = fitsAt(hi);
  }
  if (!fits) return null;
  let lo = hi / 16;
  for (let i = 0; i < 40 && fitsAt(lo); i++) {
    hi = lo;
    lo /= 16;
  }
  for (let i = 0; i < MU_STEPS; i++) {
    const mid = Math.sqrt(lo * hi);
    const a = fitsAt(mid);
    if (a) {
      hi = mid;
      fits = a;
    } else lo = mid;
  }
  fits = fitsAt(hi) ?? fits;
  if (hint) hint.mu = hi;
  return fits;
}

interface Scored {
  assignment: Assignment;
  latency: number;
  energy: number;
  objective: number;
}

/** A shared tail's least round: every device's tail time, one after another. */
const serialS = (picks: readonly Pick[]): number => picks.reduce((s, p) => s + p.choice.edgeS, 0);

function score(a: Assignment, B: number, lambda: number, shared: boolean): Scored {
  let latency = shared ? serialS(a.picks) : 0;
  let energy = 0;
  for (const p of a.picks) {
    latency = Math.max(latency, latencyOf(p, B));
    energy += energyOf(p, B);
  }
  return { assignment: a, latency, energy, objective: latency + lambda * energy };
}

/** The smallest round latency any assignment fits the budget at (bisection), or null when none does by `limit`. */
function fastest(opts: readonly Options[], B: number, limit: number): number | null {
  const feasible = (T: number) => solveAt(opts, T, B, 0) !== null;
  let lo = 0;
  for (const o of opts) lo = Math.max(lo, Math.min(...o.choices.map((c) => c.fixedS)));
  let hi = Math.max(limit, lo * 2, 1e-3);
  while (!feasible(hi)) {
    hi *= 2;
    if (hi > 1e9) return null;
  }
  for (let i = 0; i < 60 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The best plan over round latencies in [from, to] for these options. */
function searchLatency(
  opts: readonly Options[],
  B: number,
  lambda: number,
  from: number,
  to: number,
  shared: boolean,
): Scored | null {
  const hint = { mu: 1 };
  const at = (T: number) => {
    const a = solveAt(opts, T, B, lambda, hint);
    return a ? score(a, B, lambda, shared) : null;
  };
  let best = at(from);
  if (lambda === 0 || to <= from) return best;
  const points = Array.from({ length: GRID + 1 }, (_, i) => from * (to / from) ** (i / GRID));
  let bestIndex = 0;
  points.forEach((T, i) => {
    const s = at(T);
    if (s && (!best || s.objective < best.objective)) {
      best = s;
      bestIndex = i;
    }
  });
  // Golden section between the grid neighbours of the best point.
  let a = Math.log(points[Math.max(0, bestIndex - 1)]);
  let b = Math.log(points[Math.min(GRID, bestIndex + 1)]);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < GOLDEN_STEPS; i++) {
    const x1 = b - g * (b - a);
    const x2 = a + g * (b - a);
    const s1 = at(Math.exp(x1));
    const s2 = at(Math.exp(x2));
    for (const s of [s1, s2]) if (s && (!best || s.objective < best.objective)) best = s;
    if ((s1?.objective ?? Number.POSITIVE_INFINITY) <= (s2?.objective ?? Number.POSITIVE_INFINITY)) b = x2;
    else a = x1;
  }
  return best;
}

/**
 * Hands the budget a plan leaves idle to the devices that can still use it,
 * in proportion to their shares and up to their own links. When the slowest
 * device's round is set by its compute or its own link, the others need only
 * enough to finish by then, and the rest of the budget would idle; with more
 * every device finishes sooner and spends less radio energy, so neither the
 * round's latency nor the objective can grow, and a device whose compute or
 * the edge's turns out slower than its profile has slack to absorb it. A
 * radio device keeps its finishing time and transmits at less power instead:
 * the round is no faster either way, and its energy falls.
 */
function spread(a: Assignment, opts: readonly Options[], B: number): Assignment {
  const picks = a.picks.map((p) => ({ ...p }));
  const rates = picks.map((p) => rateOf(p, B));
  // Each pass either hands out all that is left or caps at least one more device.
  for (let pass = 0; pass < picks.length; pass++) {
    const left = 1 - picks.reduce((s, p) => s + p.share, 0);
    const open = picks
      .map((_, i) => i)
      .filter((i) => picks[i].choice.uplinkBits > 0 && picks[i].share < opts[i].cap * (1 - 1e-12));
    const base = open.reduce((s, i) => s + picks[i].share, 0);
    if (left <= 1e-12 || open.length === 0 || base <= 0) break;
    for (const i of open)
      picks[i].share = Math.min(opts[i].cap, picks[i].share + (left * picks[i].share) / base);
  }
  picks.forEach((p, i) => {
    if (p.choice.radio && p.choice.uplinkBits > 0) p.powerW = leastPowerW(p.choice.radio, p.share, rates[i]);
  });
  return { picks, total: picks.reduce((s, p) => s + p.share, 0) };
}

/**
 * A device's choices less those another beats on every count: no later
 * start, no more bits, no more compute energy (the first of equals kept).
 * Such a choice is never the cheaper at any latency, share, power or price:
 * fewer bits in no more time need no more share and no more transmit energy.
 * Encodings are weighed only by their bits (accuracy enters as the per-cut
 * minimum widths), so of a cut's encodings usually only the narrowest
 * allowed each way survives, and a device is left with about one choice per
 * cut: the relaxation's hot loop and the exact enumeration both run over
 * what is left.
 */
function undominated(choices: readonly Choice[]): Choice[] {
  return choices.filter(
    (c, i) =>
      !choices.some(
        (d, j) =>
          j !== i &&
          d.fixedS <= c.fixedS &&
          d.uplinkBits <= c.uplinkBits &&
          d.computeJ <= c.computeJ &&
          (j < i || d.fixedS < c.fixedS || d.uplinkBits < c.uplinkBits || d.computeJ < c.computeJ),
      ),
  );
}

/** Plans one round for the selected devices. Throws PlanError when a device has no option at all. */
export function planRound(input: PlanInput, force?: 'exact' | 'lagrangian'): Plan {
  const B = input.uplinkBudgetBps;
  // A round of radio devices alone shares the cell's band, not the bit budget.
  const allRadio = input.devices.length > 0 && input.devices.every((d) => d.radio);
  if (!(B > 0) && !allRadio) throw new PlanError('the uplink budget must be positive');
  const cell =
    input.bandwidthHz === undefined
      ? undefined
      : { bandwidthHz: input.bandwidthHz, noisePsdWPerHz: input.noisePsdWPerHz };
  const radioDevice = input.devices.find((d) => d.radio);
  if (radioDevice && !(cell && cell.bandwidthHz > 0))
    throw new PlanError(
      `device ${radioDevice.deviceId} has a radio model: the cell's bandwidth must be given`,
    );
  const shared = input.sharedTail === true;
  const edgeLoad = input.edgeSessions && !shared ? Math.max(1, input.devices.length / input.edgeSessions) : 1;
  const allowed = {
    uplink: input.uplink ?? ALL,
    downlink: input.downlink ?? ALL,
    minDepth: input.minDepth ?? 0,
  };
  const opts: Options[] = input.devices.map((device) => {
    const choices = choicesOf(device, input.cuts, allowed, edgeLoad, cell);
    if (choices.length === 0) {
      throw new PlanError(`device ${device.deviceId} can run no allowed cut and encoding`);
    }
    // A radio device's rate is its Shannon rate, which its share of the band already bounds.
    const cap = device.radio ? 1 : Math.min(1, device.uplinkBps / B);
    return { device, choices: undominated(choices), cap };
  });
  const fastestT = fastest(opts, B, input.deadlineS);
  if (fastestT === null) throw new PlanError('no plan fits the uplink budget');
  // A shared tail's round is no shorter than its devices' tail times in turn: no device need finish sooner.
  const floorOf = (os: readonly Options[]) =>
    shared ? os.reduce((s, o) => s + Math.min(...o.choices.map((c) => c.edgeS)), 0) : 0;
  const Tmin = Math.max(fastestT, floorOf(opts));
  const to = Math.max(Tmin, input.deadlineS);
  const combos = opts.reduce((n, o) => n * o.choices.length, 1);
  const method = force ?? (combos <= EXACT_LIMIT ? 'exact' : 'lagrangian');

  let best: Scored | null = null;
  if (method === 'exact') {
    const index = new Array<number>(opts.length).fill(0);
    for (let k = 0; k < combos; k++) {
      const fixed = opts.map((o, i) => ({ ...o, choices: [o.choices[index[i]]] }));
      const fast = fastest(fixed, B, to);
      const single = fast === null ? null : Math.max(fast, floorOf(fixed));
      const s =
        single === null || single > to ? null : searchLatency(fixed, B, input.lambda, single, to, shared);
      if (s && (!best || s.objective < best.objective)) best = s;
      for (let i = 0; i < index.length && ++index[i] === opts[i].choices.length; i++) index[i] = 0;
    }
    // The deadline cannot be met by any combination: the fastest plan, flagged.
    best ??= searchLatency(opts, B, 0, Tmin, Tmin, shared);
  } else {
    best = searchLatency(opts, B, input.lambda, Tmin, to, shared);
  }
  if (!best) throw new PlanError('no plan fits the uplink budget');
  best = score(spread(best.assignment, opts, B), B, input.lambda, shared);
  return {
    devices: best.assignment.picks.map((p, i) => ({
      deviceId: opts[i].device.deviceId,
      cut: p.choice.cut,
      uplink: p.choice.uplink,
      downlink: p.choice.downlink,
      share: p.share,
      rateBps: rateOf(p, B),
      ...(p.choice.radio ? { powerW: p.choice.uplinkBits > 0 ? p.powerW : 0 } : {}),
      latencyS: latencyOf(p, B),
      energyJ: energyOf(p, B),
    })),
    latencyS: best.latency,
    energyJ: best.energy,
    objective: best.objective,
    meetsDeadline: best.latency <= input.deadlineS * (1 + 1e-9),
    method,
  };
}
