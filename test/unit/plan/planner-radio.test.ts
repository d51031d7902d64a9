// The planner with devices whose transmit power it chooses (a Shannon
// uplink, strategy/plan/radio.ts), on small fleets, against two slow methods
// over every combination of cut and encoding:
// - a grid over the shares of the cell and every radio's power, zoomed in
//   around its best point: it knows nothing of least powers or prices and
//   only evaluates plans, so no plan it finds may beat the planner's; on the
//   kinks of a max of latencies it can stall short of the optimum, so it is
//   a bound, not a match;
// - a reference that finds the optimum by another route: a grid over the
//   round latency, water-filled shares each searched numerically.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Choice,
  choicesOf,
  type DeviceProfile,
  energyJ,
  latencyS,
} from '../../../strategy/plan/model.js';
import { type Plan, PlanError, type PlanInput, planRound } from '../../../strategy/plan/planner.js';
import { leastPowerW, pathGain, radioLink, shannonRateBps } from '../../../strategy/plan/radio.js';
import { CUTS, device } from './fleet.js';

const UPLINK = ['int8'] as const;
const DOWNLINK = ['int8'] as const;
const ALLOWED = { uplink: UPLINK, downlink: DOWNLINK, minDepth: 0 };
/** A narrow cell, so the uplink weighs in the round: 1 MHz, thermal noise. */
const CELL = { bandwidthHz: 1e6 };
/** Powers are searched over nine decades below each radio's maximum. */
const DECADES = 9;

const radioDevice = (i: number, speed: number, distanceM: number, maxPowerW: number): DeviceProfile => ({
  ...device(i, speed, 20),
  radio: { channelGain: pathGain(distanceM), maxPowerW },
});

/** Fleets of 2–3 devices, most with a radio 50 m–1 km from the cell, some on a measured link. */
const fleets = fc
  .array(
    fc.record({
      speed: fc.double({ min: -2, max: 2, noNaN: true }),
      radio: fc.integer({ min: 0, max: 3 }).map((k) => k > 0),
      distance: fc.double({ min: Math.log10(50), max: 3, noNaN: true }),
      power: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
      mbps: fc.double({ min: -0.3, max: 1.5, noNaN: true }),
    }),
    { minLength: 2, maxLength: 3 },
  )
  .map((ds) =>
    ds.map((d, i) =>
      d.radio
        ? radioDevice(i, 2 ** d.speed, 10 ** d.distance, d.power)
        : device(i, 2 ** d.speed, 10 ** d.mbps),
    ),
  );

const inputOf = (devices: DeviceProfile[], lambda: number, budgetMbps = 10): PlanInput => ({
  devices,
  cuts: CUTS,
  uplinkBudgetBps: budgetMbps * 1e6,
  bandwidthHz: CELL.bandwidthHz,
  deadlineS: 600,
  lambda,
  uplink: UPLINK,
  downlink: DOWNLINK,
});

/**
 * The least of f over [0, 1]^D by a grid of G points a side, recentred on
 * its best point and shrunk, level after level; then again from the best
 * point in a smaller box while that still gains, since along a narrow
 * diagonal valley (a max of latencies) the best grid point can lie off the
 * way to the minimum.
 */
function zoom(f: (u: number[]) => number, D: number, G = 5, levels = 40, shrink = 0.62): number {
  let center = new Array<number>(D).fill(0.5);
  let best = Number.POSITIVE_INFINITY;
  const index = new Array<number>(D).fill(0);
  const u = new Array<number>(D).fill(0);
  for (let restart = 0; restart < 4; restart++) {
    const before = best;
    let half = restart === 0 ? 0.5 : 0.05;
    for (let level = 0; level < levels; level++) {
      let next = center;
      for (let k = 0; k < G ** D; k++) {
        for (let d = 0; d < D; d++)
          u[d] = Math.min(1, Math.max(0, center[d] - half + (2 * half * index[d]) / (G - 1)));
        const v = f(u);
        if (v < best) {
          best = v;
          next = [...u];
        }
        for (let d = 0; d < D && ++index[d] === G; d++) index[d] = 0;
      }
      center = next;
      half *= shrink;
    }
    if (restart > 0 && best >= before * (1 - 1e-9)) break;
  }
  return best;
}

/** The objective of fixed choices at the best shares and powers the grid finds (Σ shares = 1: more never hurts). */
function gridContinuous(input: PlanInput, picks: Choice[]): number {
  const n = picks.length;
  const links = input.devices.map((d) => (d.radio ? radioLink(d.radio, CELL) : undefined));
  const radios = links.flatMap((l, i) => (l ? [i] : []));
  const B = input.uplinkBudgetBps;
  const objective = (u: number[]) => {
    let rest = 1;
    let latency = 0;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      // Stick-breaking: the first n − 1 coordinates split what is left of the cell.
      const share = i < n - 1 ? rest * u[i] : rest;
      rest -= share;
      const link = links[i];
      const c = picks[i];
      let rate: number;
      let power = c.radioW;
      if (link) {
        power = link.maxPowerW * 10 ** (-DECADES * (1 - u[n - 1 + radios.indexOf(i)]));
        rate = shannonRateBps(link, share, power);
      } else rate = Math.min(share * B, input.devices[i].uplinkBps);
      latency = Math.max(latency, latencyS(c, rate));
      energy += energyJ(c, rate, power);
    }
    return latency > input.deadlineS ? Number.POSITIVE_INFINITY : latency + input.lambda * energy;
  };
  return zoom(objective, n - 1 + radios.length);
}

function gridSearch(input: PlanInput): number {
  const options = input.devices.map((d) => choicesOf(d, input.cuts, ALLOWED, 1));
  let best = Number.POSITIVE_INFINITY;
  const index = options.map(() => 0);
  const total = options.reduce((n, o) => n * o.length, 1);
  for (let k = 0; k < total; k++) {
    best = Math.min(
      best,
      gridContinuous(
        input,
        options.map((o, i) => o[index[i]]),
      ),
    );
    for (let i = 0; i < index.length && ++index[i] === options[i].length; i++) index[i] = 0;
  }
  return best;
}

/** The least of a convex f on [lo, hi] by golden section. */
function golden(f: (x: number) => number, lo: number, hi: number, steps = 40): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  for (let i = 0; i < steps; i++) {
    const x1 = b - g * (b - a);
    const x2 = a + g * (b - a);
    if (f(x1) <= f(x2)) b = x2;
    else a = x1;
  }
  return (a + b) / 2;
}

/** The least x in [lo, hi] where a monotone test turns true, by bisection. */
function firstTrue(ok: (x: number) => boolean, lo: number, hi: number, steps = 50): number {
  for (let i = 0; i < steps; i++) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The optimum for fixed choices by another route: a grid over the round
 * latency T refined by golden section, and at each T the shares by
 * water-filling (bisection on the price of a share), each device's share
 * found numerically (golden section on its energy plus the price, above the
 * least share, found by bisection) and its power the least that finishes it
 * by T (energy rises with power at a share, so less is better).
 */
function referenceContinuous(input: PlanInput, picks: Choice[]): number {
  const links = input.devices.map((d) => (d.radio ? radioLink(d.radio, CELL) : undefined));
  const B = input.uplinkBudgetBps;
  const lambda = input.lambda;
  const devices = picks.map((c, i) => {
    const link = links[i];
    const cap = link ? 1 : Math.min(1, input.devices[i].uplinkBps / B);
    return (T: number) => {
      const slack = T - c.fixedS;
      if (c.uplinkBits === 0) return slack >= 0 ? { least: 0, cap, energy: () => c.computeJ } : null;
      if (!(slack > 0)) return null;
      const rate = c.uplinkBits / slack;
      if (!link) {
        const least = rate / B;
        return least > cap ? null : { least, cap, energy: (b: number) => energyJ(c, b * B) };
      }
      const fits = (b: number) => leastPowerW(link, b, rate) <= link.maxPowerW;
      if (!fits(cap)) return null;
      const least = firstTrue(fits, 0, cap);
      return { least, cap, energy: (b: number) => c.computeJ + leastPowerW(link, b, rate) * slack };
    };
  });
  const at = (T: number) => {
    const ds = devices.map((d) => d(T));
    if (ds.some((d) => d === null) || ds.reduce((a, d) => a + d!.least, 0) > 1)
      return Number.POSITIVE_INFINITY;
    const sharesAt = (mu: number) =>
      ds.map((d) =>
        lambda === 0 || d!.least >= d!.cap
          ? d!.least
          : golden((b) => lambda * d!.energy(b) + mu * b, d!.least, d!.cap),
      );
    let shares = sharesAt(0);
    if (shares.reduce((a, b) => a + b, 0) > 1) {
      let lo = -30;
      let hi = 30;
      for (let i = 0; i < 45; i++) {
        const mid = (lo + hi) / 2;
        if (sharesAt(10 ** mid).reduce((a, b) => a + b, 0) > 1) lo = mid;
        else hi = mid;
      }
      shares = sharesAt(10 ** hi);
    }
    return T + lambda * ds.reduce((a, d, i) => a + d!.energy(shares[i]), 0);
  };
  const Tlo = Math.max(...picks.map((c) => c.fixedS));
  if (at(input.deadlineS) === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const Tmin = firstTrue((T) => at(T) < Number.POSITIVE_INFINITY, Tlo, input.deadlineS, 50);
  if (lambda === 0) return at(Tmin);
  const points = 40;
  const grid = Array.from({ length: points + 1 }, (_, k) => Tmin * (input.deadlineS / Tmin) ** (k / points));
  const values = grid.map(at);
  const k = values.indexOf(Math.min(...values));
  const T = Math.exp(
    golden(
      (x) => at(Math.exp(x)),
      Math.log(grid[Math.max(0, k - 1)]),
      Math.log(grid[Math.min(points, k + 1)]),
      30,
    ),
  );
  return Math.min(values[k], at(T));
}

function reference(input: PlanInput): number {
  const options = input.devices.map((d) => choicesOf(d, input.cuts, ALLOWED, 1));
  let best = Number.POSITIVE_INFINITY;
  const index = options.map(() => 0);
  const total = options.reduce((n, o) => n * o.length, 1);
  for (let k = 0; k < total; k++) {
    best = Math.min(
      best,
      referenceContinuous(
        input,
        options.map((o, i) => o[index[i]]),
      ),
    );
    for (let i = 0; i < index.length && ++index[i] === options[i].length; i++) index[i] = 0;
  }
  return best;
}

/** The plan's objective recomputed from its shares and powers alone; throws when it breaks a limit. */
function checkPlan(input: PlanInput, plan: Plan): number {
  expect(plan.devices.reduce((a, d) => a + d.share, 0)).toBeLessThanOrEqual(1 + 1e-9);
  let latency = 0;
  let energy = 0;
  plan.devices.forEach((d, i) => {
    const profile = input.devices[i];
    const c = choicesOf(profile, input.cuts, ALLOWED, 1).find(
      (o) => o.cut === d.cut && o.uplink === d.uplink,
    )!;
    let rate = Math.min(d.share * input.uplinkBudgetBps, profile.uplinkBps);
    let power = c.radioW;
    if (profile.radio) {
      expect(d.powerW).toBeDefined();
      power = d.powerW!;
      expect(power).toBeLessThanOrEqual(profile.radio.maxPowerW * (1 + 1e-9));
      rate = shannonRateBps(radioLink(profile.radio, CELL), d.share, power);
    } else expect(d.powerW).toBeUndefined();
    expect(d.rateBps / rate).toBeCloseTo(1, 9);
    latency = Math.max(latency, latencyS(c, rate));
    energy += energyJ(c, rate, power);
  });
  const objective = latency + input.lambda * energy;
  expect(plan.objective / objective).toBeCloseTo(1, 9);
  return objective;
}

/** A device's uploading seconds in a plan and the bits it sends then. */
function upload(input: PlanInput, plan: Plan, i: number) {
  const d = plan.devices[i];
  const c = choicesOf(input.devices[i], input.cuts, ALLOWED, 1).find(
    (o) => o.cut === d.cut && o.uplink === d.uplink,
  )!;
  return { seconds: d.latencyS - c.fixedS, bits: c.uplinkBits };
}

describe('planRound with radio devices', () => {
  it('matches the reference optimum and beats a grid over shares and powers, exactly and by the relaxation', () => {
    fc.assert(
      fc.property(fleets, fc.constantFrom(0, 0.05, 1), (devices, lambda) => {
        const input = inputOf(devices, lambda);
        const optimum = reference(input);
        const grid = gridSearch(input);
        for (const method of ['exact', 'lagrangian'] as const) {
          const plan = planRound(input, method);
          expect(plan.method).toBe(method);
          const objective = checkPlan(input, plan);
          expect(objective, method).toBeLessThanOrEqual(grid * (1 + 1e-6));
          expect(objective / optimum, method).toBeCloseTo(1, 6);
        }
      }),
      { numRuns: 8, seed: 21 },
    );
  });

  it('with λ > 0 lets a device with time to spare transmit below its maximum power', () => {
    // A slow device on a measured link sets the round; a quick one near the cell has seconds to spare.
    const devices = [device(0, 0.02, 5), radioDevice(1, 2, 150, 0.2)];
    const plan = planRound(inputOf(devices, 0.05));
    const quick = plan.devices[1];
    expect(quick.latencyS).toBeLessThanOrEqual(plan.latencyS * (1 + 1e-9));
    expect(quick.powerW!).toBeLessThan(0.2 * 0.5);
    // And that is the least power that finishes it in its time.
    const { seconds, bits } = upload(inputOf(devices, 0.05), plan, 1);
    const link = radioLink(devices[1].radio!, CELL);
    expect(quick.powerW! / leastPowerW(link, quick.share, bits / seconds)).toBeCloseTo(1, 9);
  });

  it('with λ = 0 runs the fastest round, each radio at the power it needs for it', () => {
    // Radios set the round: far from the cell, quick compute. Every one needs its maximum.
    const far = [radioDevice(0, 4, 800, 0.2), radioDevice(1, 2, 400, 0.1), radioDevice(2, 4, 600, 0.3)];
    const input = inputOf(far, 0);
    const plan = planRound(input);
    expect(plan.latencyS / reference(input)).toBeCloseTo(1, 6);
    expect(plan.devices.reduce((a, d) => a + d.share, 0)).toBeCloseTo(1, 9);
    for (const [i, d] of plan.devices.entries())
      expect(d.powerW! / far[i].radio!.maxPowerW).toBeCloseTo(1, 6);
    // A slow device sets the round: the radio needs less than its maximum to keep up, and gets no more.
    const mixed = [device(0, 0.02, 5), radioDevice(1, 2, 150, 0.2)];
    const slow = planRound(inputOf(mixed, 0));
    const { seconds, bits } = upload(inputOf(mixed, 0), slow, 1);
    const needed = leastPowerW(radioLink(mixed[1].radio!, CELL), slow.devices[1].share, bits / seconds);
    expect(slow.devices[1].powerW! / needed).toBeCloseTo(1, 9);
    expect(slow.devices[1].powerW!).toBeLessThan(0.2);
  });

  it('spends less radio energy, and lower powers, as λ grows', () => {
    const devices = [radioDevice(0, 0.5, 300, 0.2), radioDevice(1, 2, 100, 0.2), device(2, 1, 2)];
    const plans = [0, 0.01, 0.1, 1].map((lambda) => planRound(inputOf(devices, lambda)));
    for (let i = 1; i < plans.length; i++) {
      expect(plans[i].energyJ).toBeLessThanOrEqual(plans[i - 1].energyJ * (1 + 1e-6));
      expect(plans[i].latencyS).toBeGreaterThanOrEqual(plans[i - 1].latencyS * (1 - 1e-6));
    }
    expect(plans[3].devices[0].powerW!).toBeLessThan(plans[0].devices[0].powerW!);
  });

  it('plans devices without a radio as before when a cell is given, and refuses radios without one', () => {
    const plain = [device(0, 0.5, 5), device(1, 2, 40), device(2, 1, 1)];
    const { bandwidthHz: _, ...withoutCell } = inputOf(plain, 0.05);
    expect(planRound(inputOf(plain, 0.05))).toEqual(planRound(withoutCell));
    const radios = [radioDevice(0, 1, 100, 0.2)];
    const { bandwidthHz: __, ...noCell } = inputOf(radios, 0.05);
    expect(() => planRound(noCell)).toThrow(PlanError);
    // All on radios, the bit budget is not needed.
    expect(planRound({ ...inputOf(radios, 0.05), uplinkBudgetBps: 0 }).devices[0].powerW).toBeGreaterThan(0);
  });

  it('plans a large radio fleet by the relaxation within the cell', () => {
    const devices = Array.from({ length: 200 }, (_, i) =>
      radioDevice(i % 7, 2 ** ((i % 9) - 4), 10 + ((i * 37) % 490), 0.1 + 0.1 * (i % 3)),
    );
    const plan = planRound({ ...inputOf(devices, 0.01), bandwidthHz: 100e6 });
    expect(plan.method).toBe('lagrangian');
    expect(plan.devices.reduce((a, d) => a + d.share, 0)).toBeLessThanOrEqual(1 + 1e-9);
    for (const [i, d] of plan.devices.entries())
      expect(d.powerW!).toBeLessThanOrEqual(devices[i].radio!.maxPowerW * (1 + 1e-9));
    expect(plan.meetsDeadline).toBe(true);
  });
});
