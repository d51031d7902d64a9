// The configure step of a planned federation (strategy/plan/configure.ts):
// from reported profiles to each selected device's encodings and share.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BITS } from '../../../protocol/encoding.js';
import { PlanningConfig } from '../../../protocol/federation.js';
import type { DeviceProfileReport } from '../../../protocol/profile.js';
import {
  type CutSpec,
  configureRound,
  cutCost,
  cutDepth,
  plannerProfile,
  splitFedMode,
  trimWork,
} from '../../../strategy/plan/configure.js';
import { pathGain } from '../../../strategy/plan/radio.js';

const CUT: CutSpec = {
  modelId: 'vit',
  id: 'embed',
  depth: 0,
  sampleShape: [17, 64],
  encodings: ['fp32', 'fp16', 'int8', 'int4', 'int2'],
  head: ['embed.lora_A'],
};
const DEEP: CutSpec = {
  ...CUT,
  modelId: 'vit-deep',
  id: 'block1',
  depth: 2,
  head: ['embed.lora_A', 'b0.lora_A'],
};
const FIXED = { uplink: 'int8', downlink: 'int8', batchSize: 32, localEpochs: 1 } as const;
const planning = (extra: Partial<PlanningConfig> = {}) =>
  PlanningConfig.parse({ uplinkBudgetBps: 20e6, minUplinkBits: 4, minDownlinkBits: 8, ...extra });

const profile = (uplinkMbps: number, headMs: number): DeviceProfileReport => ({
  headMsPerSample: { embed: headMs },
  uplinkBps: uplinkMbps * 1e6,
  downlinkBps: uplinkMbps * 4e6,
  rttMs: 30,
  samples: 1000,
  power: { computeW: 4, radioW: 1.5 },
});

const input = (
  devices: Array<{ deviceId: string; profile: DeviceProfileReport | null }>,
  p = planning(),
  cuts: CutSpec[] = [CUT],
) => ({
  planning: p,
  fixed: FIXED,
  cuts,
  tailMsPerSample: new Map([
    ['vit', 0.4],
    ['vit-deep', 0.3],
  ]),
  deadlineS: 600,
  devices,
});

describe('configureRound', () => {
  it('plans profiled devices within the budget and never below the bit floors', () => {
    const devices = [
      { deviceId: 'slow', profile: profile(0.5, 3) },
      { deviceId: 'mid', profile: profile(5, 1) },
      { deviceId: 'fast', profile: profile(100, 0.2) },
    ];
    const plan = configureRound(input(devices));
    expect(plan.summary.unprofiled).toEqual([]);
    const shares = [...plan.assignments.values()].map((a) => a.plan.share);
    expect(shares.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
    for (const [id, a] of plan.assignments) {
      expect(BITS[a.uplink], id).toBeGreaterThanOrEqual(4);
      expect(BITS[a.downlink], id).toBeGreaterThanOrEqual(8);
      expect(a.plan.rateBps).toBeCloseTo(a.plan.share * 20e6, 3);
      expect(a.plan.latencyS).toBeLessThanOrEqual(plan.summary.latencyS + 1e-9);
    }
    // The slow link cannot use more than its own rate.
    expect(plan.assignments.get('slow')!.plan.rateBps).toBeLessThanOrEqual(0.5e6 * (1 + 1e-9));
  });

  it('offers a device only the cuts whose measured head peak fits its declared memory', () => {
    const MiB = 2 ** 20;
    const fitting = (limitMiB: number): DeviceProfileReport => ({
      ...profile(10, 1),
      // The deep cut is the faster round here (its tail is shorter and this head is quick), so only memory keeps a device off it.
      headMsPerSample: { embed: 0.2, block1: 0.21 },
      headPeakBytes: { embed: 20 * MiB, block1: 40 * MiB },
      memoryLimitBytes: limitMiB * MiB,
    });
    const devices = [
      { deviceId: 'roomy', profile: fitting(64) },
      { deviceId: 'tight', profile: fitting(32) },
      { deviceId: 'tiny', profile: fitting(16) },
    ];
    const plan = configureRound({ ...input(devices, planning(), [CUT, DEEP]), deadlineS: 3600 });
    expect(plan.assignments.get('roomy')!.cut).toBe('block1');
    expect(plan.assignments.get('tight')!.cut).toBe('embed');
    // Fits no cut it measured: planned as a device without a profile, at the federation's own cut.
    expect(plan.summary.unprofiled).toEqual(['tiny']);
    expect(plan.assignments.get('tiny')!.cut).toBe('embed');
  });

  it('gives a device it cannot plan the fixed encodings and an equal share, and the rest plans in what is left', () => {
    const devices = [
      { deviceId: 'new', profile: null },
      { deviceId: 'no-link', profile: { headMsPerSample: { embed: 1 } } },
      { deviceId: 'other-cut', profile: { ...profile(10, 1), headMsPerSample: { block1: 2 } } },
      { deviceId: 'known', profile: profile(100, 0.5) },
    ];
    const plan = configureRound(input(devices));
    expect(plan.summary.unprofiled).toEqual(['new', 'no-link', 'other-cut']);
    for (const id of plan.summary.unprofiled) {
      expect(plan.assignments.get(id)).toMatchObject({
        modelId: 'vit',
        cut: 'embed',
        uplink: 'int8',
        downlink: 'int8',
        plan: { share: 0.25, rateBps: 5e6 },
      });
    }
    expect(plan.assignments.get('known')!.plan.share).toBeLessThanOrEqual(0.25 + 1e-9);
  });

  it('counts a round from the device’s examples, epochs and batch', () => {
    const p = plannerProfile('d', profile(1, 1), ['embed'], { batchSize: 32, localEpochs: 2 });
    expect(p).toMatchObject({ samples: 2000, steps: 64, rttMs: 30 });
    // Without a count, one batch per epoch.
    const { samples: _, ...rest } = profile(1, 1);
    expect(plannerProfile('d', rest, ['embed'], { batchSize: 32, localEpochs: 2 })).toMatchObject({
      samples: 64,
      steps: 2,
    });
  });

  it('prices a cut by the frame bytes of the encodings the floors allow', () => {
    const cost = cutCost(CUT, planning());
    expect(Object.keys(cost.uplinkBytesPerSample).sort()).toEqual(['fp16', 'fp32', 'int4', 'int8']);
    expect(Object.keys(cost.downlinkBytesPerSample).sort()).toEqual(['fp16', 'fp32', 'int8']);
    expect(cost.uplinkBytesPerSample.int4!).toBeLessThan(cost.uplinkBytesPerSample.int8!);
    // No measurement yet: the declared tail time.
    expect(cost.tailMsPerSample).toBe(1);
  });

  it('trades latency for energy as λ grows', () => {
    const devices = Array.from({ length: 6 }, (_, i) => ({
      deviceId: `d${i}`,
      profile: profile([0.5, 2, 8, 20, 50, 100][i], [3, 2, 1, 0.5, 0.3, 0.2][i]),
    }));
    const fast = configureRound(input(devices, planning({ lambda: 0 })));
    const frugal = configureRound(input(devices, planning({ lambda: 10 })));
    expect(frugal.summary.energyJ).toBeLessThanOrEqual(fast.summary.energyJ + 1e-9);
    expect(frugal.summary.latencyS).toBeGreaterThanOrEqual(fast.summary.latencyS * (1 - 1e-6));
    expect(frugal.summary.energyJ).toBeLessThan(fast.summary.energyJ);
  });

  it('gives each device a cut it timed, at or past the privacy floor', () => {
    const devices = [
      { deviceId: 'shallow-only', profile: profile(20, 0.3) },
      { deviceId: 'deep-only', profile: { ...profile(20, 0.3), headMsPerSample: { block1: 0.9 } } },
      { deviceId: 'both', profile: { ...profile(0.5, 0.3), headMsPerSample: { embed: 0.3, block1: 0.9 } } },
    ];
    const plan = configureRound(input(devices, planning(), [CUT, DEEP]));
    expect(plan.assignments.get('shallow-only')).toMatchObject({ modelId: 'vit', cut: 'embed' });
    expect(plan.assignments.get('deep-only')).toMatchObject({ modelId: 'vit-deep', cut: 'block1' });
    expect(['embed', 'block1']).toContain(plan.assignments.get('both')!.cut);

    // A floor of 1 block: the embed cut is never planned; a device that timed only it is not planned
    // either, and trains at the shallowest cut the floor allows.
    const floored = configureRound(input(devices, planning({ minDepth: 1 }), [CUT, DEEP]));
    for (const a of floored.assignments.values())
      expect(a).toMatchObject({ modelId: 'vit-deep', cut: 'block1' });
    expect(floored.summary.unprofiled).toEqual(['shallow-only']);
  });

  it('reads a cut’s depth from its id', () => {
    expect([cutDepth('embed'), cutDepth('block0'), cutDepth('block11'), cutDepth('tensor:x')]).toEqual([
      0, 1, 12, 0,
    ]);
  });
});

describe('splitFedMode and a shared-tail round', () => {
  it('shares the tail only under auto, and only when the devices outnumber the edge’s sessions', () => {
    expect(splitFedMode('v1', 100, 1)).toBe('v1');
    expect(splitFedMode('v2', 1, 100)).toBe('v2');
    expect(splitFedMode('auto', 3, 3)).toBe('v1');
    expect(splitFedMode('auto', 4, 3)).toBe('v2');
    expect(splitFedMode('auto', 4)).toBe('v1');
  });

  it('plans a shared-tail round with the tail’s time taken by every device in turn', () => {
    const devices = ['a', 'b', 'c', 'd'].map((deviceId) => ({ deviceId, profile: profile(10, 2) }));
    // A slow tail, so that its time shows in the plan.
    const slow = (splitfed: 'v1' | 'auto', edgeSessions: number) => ({
      ...input(devices, planning({ edgeSessions })),
      tailMsPerSample: new Map([['vit', 20]]),
      splitfed,
    });
    const own = configureRound(slow('v1', 4));
    const shared = configureRound(slow('auto', 2));
    expect(own.summary.splitfed).toBe('v1');
    expect(shared.summary.splitfed).toBe('v2');
    // 1000 samples × 20 ms: 20 s of tail per device, alone (v1 with room) or 4 × 20 s in turn,
    // which is longer than any one device's own round: the sum sets the shared round.
    expect(own.summary.latencyS).toBeGreaterThan(20);
    expect(own.summary.latencyS).toBeLessThan(80);
    expect(shared.summary.latencyS).toBeCloseTo(80, 6);
  });
});

describe('trimming the stragglers’ work (planning.minWork)', () => {
  const devices = [
    { deviceId: 'fast-a', profile: profile(50, 1) },
    { deviceId: 'fast-b', profile: profile(40, 1) },
    { deviceId: 'slow', profile: profile(0.5, 1) },
  ];

  it('gives the device that holds the round back fewer steps, keeps the share asked for, and plans a shorter round', () => {
    const full = configureRound(input(devices));
    const trimmed = configureRound(input(devices, planning({ minWork: 0.8 })));
    expect(full.summary.work).toBeUndefined();
    expect(trimmed.summary.work).toBeGreaterThanOrEqual(0.8);
    expect(trimmed.summary.work).toBeLessThan(1);
    expect(trimmed.assignments.get('slow')!.plan.steps).toBeLessThan(Math.ceil(1000 / 32));
    expect(trimmed.assignments.get('fast-a')!.plan.steps).toBeUndefined();
    expect(trimmed.summary.latencyS).toBeLessThan(full.summary.latencyS * 0.8);
  });

  it('keeps at least the share of samples asked for, whatever the latencies', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            samples: fc.integer({ min: 32, max: 5000 }),
            latency: fc.double({ min: 0.1, max: 1000, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (ds, minWork) => {
          const profiles = ds.map((d, i) => ({
            deviceId: `d${i}`,
            headMsPerSample: { embed: 1 },
            uplinkBps: 1e6,
            downlinkBps: 1e6,
            rttMs: 10,
            samples: d.samples,
            steps: Math.ceil(d.samples / 32),
          }));
          const out = trimWork(
            profiles,
            ds.map((d) => d.latency),
            minWork,
          );
          expect(out.work).toBeGreaterThanOrEqual(minWork - 1e-9);
          out.devices.forEach((d, i) => {
            expect(d.steps).toBeGreaterThanOrEqual(1);
            expect(d.steps).toBeLessThanOrEqual(profiles[i].steps);
          });
        },
      ),
    );
  });
});

describe('devices that report a radio', () => {
  const near = { channelGain: pathGain(50), maxPowerW: 0.2 };
  const far = { channelGain: pathGain(400), maxPowerW: 0.2 };
  const devices = [
    { deviceId: 'near', profile: { ...profile(20, 1), radio: near } },
    { deviceId: 'far', profile: { ...profile(5, 1), radio: far } },
  ];

  it('get a transmit power at most their limit when the planning declares a cell, and none without one', () => {
    const cell = configureRound(input(devices, planning({ bandwidthHz: 10e6, lambda: 1 })));
    for (const d of ['near', 'far']) {
      const plan = cell.assignments.get(d)!.plan;
      expect(plan.powerW).toBeGreaterThan(0);
      expect(plan.powerW).toBeLessThanOrEqual(0.2 * (1 + 1e-9));
    }
    const measured = configureRound(input(devices, planning({ lambda: 1 })));
    expect(measured.assignments.get('near')!.plan.powerW).toBeUndefined();
  });
});
