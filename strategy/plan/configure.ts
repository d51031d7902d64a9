// The "configure" step for a planned federation: from the selected devices'
// reported profiles (protocol/profile.ts) and what the operator declared
// (PlanningConfig), each device's encodings and uplink share for the round.
// Transport-free: the coordinator stores what this returns and copies it into
// tickets.
//
// A device whose profile cannot be planned (none yet, no time measured at
// this cut, no link measured) is not guessed at: it gets the federation's
// fixed encodings and an equal share of the budget, and the others are
// planned within what is left.
import { BITS, type Encoding } from '../../protocol/encoding.js';
import type { PlanningConfig, TicketPlan } from '../../protocol/federation.js';
import type { Manifest } from '../../protocol/manifest.js';
import type { DeviceProfileReport } from '../../protocol/profile.js';
import { bytesPerSample, type CutCost, type DeviceProfile } from './model.js';
import { type Plan, planRound } from './planner.js';

/** The federation's cut as the planner needs it: its id, an activation's shape per sample, the encodings it accepts. */
export interface CutSpec {
  id: string;
  sampleShape: number[];
  encodings: Encoding[];
}

/** A model's cut as the planner needs it; undefined when its activation's shape is not fixed past the batch. */
export function cutSpecOf(manifest: Manifest): CutSpec | undefined {
  const sampleShape = manifest.cut.tensor.shape.slice(1);
  if (!sampleShape.every((d): d is number => typeof d === 'number' && d > 0)) return undefined;
  return { id: manifest.cut.id, sampleShape, encodings: [...manifest.wire.encodings] };
}

export interface ConfigureInput {
  planning: PlanningConfig;
  /** The federation's fixed choice, for devices that cannot be planned. */
  fixed: { uplink: Encoding; downlink: Encoding; batchSize: number; localEpochs: number };
  cut: CutSpec;
  /** The tail's time per sample at the edge as sessions measured it, or null before any did. */
  tailMsPerSample: number | null;
  deadlineS: number;
  devices: ReadonlyArray<{ deviceId: string; profile: DeviceProfileReport | null }>;
}

export interface DeviceAssignment {
  uplink: Encoding;
  downlink: Encoding;
  plan: TicketPlan;
}

export interface RoundPlan {
  assignments: Map<string, DeviceAssignment>;
  summary: {
    method: Plan['method'];
    latencyS: number;
    energyJ: number;
    meetsDeadline: boolean;
    unprofiled: string[];
  };
}

/** What the planner knows of a device, or null when its profile lacks what planning needs. */
export function plannerProfile(
  deviceId: string,
  profile: DeviceProfileReport | null,
  cut: string,
  work: { batchSize: number; localEpochs: number },
): DeviceProfile | null {
  const headMs = profile?.headMsPerSample[cut];
  if (!profile || headMs === undefined || !profile.uplinkBps || !profile.downlinkBps) return null;
  // A device that has not said how much it holds is planned for one batch per epoch.
  const held = profile.samples ?? work.batchSize;
  return {
    deviceId,
    headMsPerSample: { [cut]: headMs },
    ...(profile.memoryLimitBytes !== undefined ? { memoryLimitBytes: profile.memoryLimitBytes } : {}),
    uplinkBps: profile.uplinkBps,
    downlinkBps: profile.downlinkBps,
    rttMs: profile.rttMs ?? 0,
    ...(profile.power ? { power: { computeW: profile.power.computeW, radioW: profile.power.radioW } } : {}),
    samples: held * work.localEpochs,
    steps: Math.ceil(held / work.batchSize) * work.localEpochs,
  };
}

/** The cut's costs: bytes per sample at every encoding it accepts and the planning floor allows. */
export function cutCost(cut: CutSpec, planning: PlanningConfig, tailMsPerSample: number | null): CutCost {
  const bytes = bytesPerSample(cut.sampleShape);
  const allowed = (min: number) =>
    Object.fromEntries(cut.encodings.filter((e) => BITS[e] >= min).map((e) => [e, bytes[e]]));
  return {
    cut: cut.id,
    depth: 0,
    uplinkBytesPerSample: allowed(planning.minUplinkBits),
    downlinkBytesPerSample: allowed(planning.minDownlinkBits),
    tailMsPerSample: tailMsPerSample ?? planning.tailMsPerSample,
    minUplinkBits: planning.minUplinkBits,
    minDownlinkBits: planning.minDownlinkBits,
  };
}

/** Plans one round. Throws PlanError (strategy/plan/planner.ts) when no plan fits. */
export function configureRound(input: ConfigureInput): RoundPlan {
  const { planning, fixed } = input;
  const n = input.devices.length;
  const pace = planning.pace;
  const profiles: DeviceProfile[] = [];
  const unprofiled: string[] = [];
  for (const d of input.devices) {
    const p = plannerProfile(d.deviceId, d.profile, input.cut.id, fixed);
    if (p) profiles.push(p);
    else unprofiled.push(d.deviceId);
  }
  const equalRate = n === 0 ? 0 : planning.uplinkBudgetBps / n;
  const assignments = new Map<string, DeviceAssignment>();
  for (const deviceId of unprofiled) {
    assignments.set(deviceId, {
      uplink: fixed.uplink,
      downlink: fixed.downlink,
      plan: { share: 1 / n, rateBps: equalRate, latencyS: 0, energyJ: 0, paced: pace },
    });
  }
  if (profiles.length === 0) {
    return {
      assignments,
      summary: { method: 'exact', latencyS: 0, energyJ: 0, meetsDeadline: true, unprofiled },
    };
  }
  const budget = planning.uplinkBudgetBps * (profiles.length / n);
  const plan = planRound({
    devices: profiles,
    cuts: [cutCost(input.cut, planning, input.tailMsPerSample)],
    uplinkBudgetBps: budget,
    deadlineS: input.deadlineS,
    lambda: planning.lambda,
    ...(planning.edgeSessions ? { edgeSessions: planning.edgeSessions } : {}),
  });
  for (const d of plan.devices) {
    assignments.set(d.deviceId, {
      uplink: d.uplink,
      downlink: d.downlink,
      plan: {
        share: (d.share * budget) / planning.uplinkBudgetBps,
        rateBps: d.rateBps,
        latencyS: d.latencyS,
        energyJ: d.energyJ,
        paced: pace,
      },
    });
  }
  return {
    assignments,
    summary: {
      method: plan.method,
      latencyS: plan.latencyS,
      energyJ: plan.energyJ,
      meetsDeadline: plan.meetsDeadline,
      unprofiled,
    },
  };
}
