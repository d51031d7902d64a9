// The planner against brute force: on small fleets every combination of cut
// and encodings is enumerated, and for each the shares and the round latency
// are found by a dense grid over the latency with water-filled shares (an
// independent, slow method). The planner, exact and relaxed, must match it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Choice,
  choicesOf,
  type DeviceProfile,
  energyJ,
  latencyS,
} from '../../../strategy/plan/model.js';
import { PlanError, type PlanInput, planRound } from '../../../strategy/plan/planner.js';
import { CUTS, device, fleets } from './fleet.js';

const UPLINK = ['fp32', 'int8', 'int4'] as const;
const DOWNLINK = ['int8'] as const;

/** The minimum of the objective for fixed choices, by a grid over latency T and bisection on the share price. */
function bruteContinuous(
  devices: readonly DeviceProfile[],
  picks: Choice[],
  B: number,
  lambda: number,
  deadline: number,
  sharedTail = false,
) {
  let best = Number.POSITIVE_INFINITY;
  // A shared tail's round lasts at least every device's tail time in turn.
  const floor = sharedTail ? picks.reduce((a, c) => a + c.edgeS, 0) : 0;
  const Tlo = Math.max(...picks.map((c) => c.fixedS), floor) * (1 + 1e-9);
  const points = 3000;
  for (let k = 0; k <= points; k++) {
    const T = Tlo * (deadline / Tlo) ** (k / points);
    const bounds = picks.map((c, i) => {
      const cap = Math.min(1, devices[i].uplinkBps / B);
      const lo = c.uplinkBits / ((T - c.fixedS) * B);
      return { lo, cap, w: (lambda * c.radioW * c.uplinkBits) / B };
    });
    if (bounds.some((b) => b.lo > b.cap) || bounds.reduce((a, b) => a + b.lo, 0) > 1) continue;
    const sharesAt = (mu: number) =>
      bounds.map((b) =>
        Math.min(b.cap, Math.max(b.lo, b.w > 0 ? (mu > 0 ? Math.sqrt(b.w / mu) : b.cap) : b.lo)),
      );
    let shares = sharesAt(0);
    if (shares.reduce((a, b) => a + b, 0) > 1) {
      let lo = 1e-30;
      let hi = 1e30;
      for (let i = 0; i < 200; i++) {
        const mid = Math.sqrt(lo * hi);
        if (sharesAt(mid).reduce((a, b) => a + b, 0) > 1) lo = mid;
        else hi = mid;
      }
      shares = sharesAt(hi);
    }
    const latency = Math.max(floor, ...picks.map((c, i) => latencyS(c, shares[i] * B)));
    const energy = picks.reduce((a, c, i) => a + energyJ(c, shares[i] * B), 0);
    best = Math.min(best, latency + lambda * energy);
  }
  return best;
}

function bruteForce(input: PlanInput): number {
  const options = input.devices.map((d) =>
    choicesOf(d, input.cuts, { uplink: UPLINK, downlink: DOWNLINK, minDepth: input.minDepth ?? 0 }, 1),
  );
  let best = Number.POSITIVE_INFINITY;
  const index = options.map(() => 0);
  const total = options.reduce((n, o) => n * o.length, 1);
  for (let k = 0; k < total; k++) {
    const picks = options.map((o, i) => o[index[i]]);
    best = Math.min(
      best,
      bruteContinuous(
        input.devices,
        picks,
        input.uplinkBudgetBps,
        input.lambda,
        input.deadlineS,
        input.sharedTail,
      ),
    );
    for (let i = 0; i < index.length && ++index[i] === options[i].length; i++) index[i] = 0;
  }
  return best;
}

const inputOf = (devices: DeviceProfile[], lambda: number, budgetMbps: number): PlanInput => ({
  devices,
  cuts: CUTS,
  uplinkBudgetBps: budgetMbps * 1e6,
  deadlineS: 600,
  lambda,
  uplink: UPLINK,
  downlink: DOWNLINK,
});

describe('planRound', () => {
  it('matches brute force on small fleets, solved exactly and by the Lagrangian relaxation', () => {
    fc.assert(
      fc.property(
        fleets,
        fc.constantFrom(0, 0.05, 1),
        fc.double({ min: 1, max: 50, noNaN: true }),
        (devices, lambda, budget) => {
          const input = inputOf(devices, lambda, budget);
          const brute = bruteForce(input);
          for (const method of ['exact', 'lagrangian'] as const) {
            const plan = planRound(input, method);
            expect(plan.method).toBe(method);
            // Never worse than brute force beyond its grid's resolution, never better than what is possible.
            expect(plan.objective, method).toBeLessThanOrEqual(brute * (1 + 2e-3));
            expect(plan.objective, method).toBeGreaterThanOrEqual(brute * (1 - 2e-3));
            expect(plan.devices.reduce((a, d) => a + d.share, 0)).toBeLessThanOrEqual(1 + 1e-9);
            for (const [i, d] of plan.devices.entries())
              expect(d.rateBps).toBeLessThanOrEqual(devices[i].uplinkBps * (1 + 1e-9));
          }
        },
      ),
      { numRuns: 12, seed: 7 },
    );
  });

  it('matches brute force when one tail serves the round in turn (SplitFed V2)', () => {
    fc.assert(
      fc.property(fleets, fc.constantFrom(0, 0.05, 1), (devices, lambda) => {
        // Tails slow enough that their sum, not any one device, can set the round.
        const input = {
          ...inputOf(devices, lambda, 50),
          cuts: CUTS.map((c) => ({ ...c, tailMsPerSample: 4 })),
          sharedTail: true,
        };
        const brute = bruteForce(input);
        for (const method of ['exact', 'lagrangian'] as const) {
          const plan = planRound(input, method);
          expect(plan.objective, method).toBeLessThanOrEqual(brute * (1 + 2e-3));
          expect(plan.objective, method).toBeGreaterThanOrEqual(brute * (1 - 2e-3));
          expect(plan.latencyS).toBeGreaterThanOrEqual((devices.length * 500 * 4) / 1000 - 1e-9);
        }
      }),
      { numRuns: 8, seed: 11 },
    );
  });

  it('runs a slow link at its own rate with the narrowest encoding, and finishes the fast device no later', () => {
    const devices = [device(0, 1, 2), device(1, 1, 100)];
    const plan = planRound(inputOf(devices, 0, 20));
    const [slow, fast] = plan.devices;
    // 2 of the 20 Mbit/s: all the slow link can carry.
    expect(slow.share).toBeCloseTo(0.1, 9);
    expect(slow.uplink).toBe('int4');
    expect(fast.latencyS).toBeLessThanOrEqual(slow.latencyS * (1 + 1e-9));
    expect(plan.latencyS).toBeCloseTo(slow.latencyS, 9);
  });

  it('leaves no budget idle that a device could use, when the slowest is held back by its own compute', () => {
    // A very slow device sets the round; the others would need only a little of the budget to keep up.
    const devices = [device(0, 0.01, 50), device(1, 1, 50), device(2, 1, 50)];
    const plan = planRound({ devices, cuts: CUTS, uplinkBudgetBps: 30e6, deadlineS: 3600, lambda: 0 });
    const total = plan.devices.reduce((s, d) => s + d.share, 0);
    const capped = plan.devices.filter((d) => d.rateBps >= 50e6 * (1 - 1e-9)).length;
    expect(total > 1 - 1e-9 || capped === devices.length).toBe(true);
    for (const d of plan.devices) expect(d.latencyS).toBeLessThanOrEqual(plan.latencyS * (1 + 1e-9));
  });

  it('trades latency for energy as λ grows', () => {
    // Links that together exceed the budget, so that a later round frees share for the devices whose radios cost most.
    const devices = [device(0, 4, 50), device(1, 2, 40), device(2, 1, 30)];
    const plans = [0, 0.01, 0.1, 1].map((lambda) => planRound(inputOf(devices, lambda, 50)));
    for (let i = 1; i < plans.length; i++) {
      expect(plans[i].energyJ).toBeLessThanOrEqual(plans[i - 1].energyJ * (1 + 1e-6));
      expect(plans[i].latencyS).toBeGreaterThanOrEqual(plans[i - 1].latencyS * (1 - 1e-6));
    }
    expect(plans[3].energyJ).toBeLessThan(plans[0].energyJ);
  });

  it('keeps to the privacy floor and to each device’s memory', () => {
    const devices = [
      device(0, 1, 10),
      { ...device(1, 1, 10), headPeakBytes: { embed: 1e6, block1: 9e6 }, memoryLimitBytes: 4e6 },
    ];
    const floored = planRound({ ...inputOf([devices[0]], 0, 20), minDepth: 2 });
    expect(floored.devices[0].cut).toBe('block1');
    const limited = planRound(inputOf(devices, 0, 20));
    expect(limited.devices[1].cut).toBe('embed');
    expect(() => planRound({ ...inputOf(devices, 0, 20), minDepth: 2 })).toThrow(PlanError);
  });

  it('says when the deadline cannot be met, with the fastest plan', () => {
    const plan = planRound({ ...inputOf([device(0, 0.25, 0.5), device(1, 0.25, 0.5)], 0, 1), deadlineS: 1 });
    expect(plan.meetsDeadline).toBe(false);
    expect(plan.latencyS).toBeGreaterThan(1);
  });

  it('plans a large fleet by the relaxation', () => {
    const devices = Array.from({ length: 200 }, (_, i) =>
      device(i % 7, 2 ** ((i % 9) - 4), 10 ** (((i * 37) % 27) / 10 - 0.3)),
    );
    const plan = planRound(inputOf(devices, 0.01, 500));
    expect(plan.method).toBe('lagrangian');
    expect(plan.devices).toHaveLength(200);
    expect(plan.devices.reduce((a, d) => a + d.share, 0)).toBeLessThanOrEqual(1 + 1e-9);
    expect(plan.meetsDeadline).toBe(true);
  });
});
