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
import type { PlanningConfig, SplitFedConfig, SplitFedMode, TicketPlan } from '../../protocol/federation.js';
import type { Manifest } from '../../protocol/manifest.js';
import type { DeviceProfileReport } from '../../protocol/profile.js';
import { bytesPerSample, type CutCost, type DeviceProfile } from './model.js';
import { type Plan, planRound } from './planner.js';

/**
 * One build of the federation's model at one cut, as the planner and the
 * coordinator need it: the model that runs it, the cut's id and depth, an
 * activation's shape per sample, the encodings it accepts and the
 * trainables the device trains there (the rest train at the edge).
 */
export interface CutSpec {
  modelId: string;
  id: string;
  /** Encoder blocks on the device: `embed` 0, `block<k>` k + 1. */
  depth: number;
  sampleShape: number[];
  encodings: Encoding[];
  head: string[];
}

/** Encoder blocks on the device at a cut: `embed` 0, `block<k>` k + 1, anything else 0. */
export function cutDepth(cut: string): number {
  const m = /^block(\d+)$/.exec(cut);
  return m ? Number(m[1]) + 1 : 0;
}

/** A model's cut as the planner needs it; undefined when its activation's shape is not fixed past the batch. */
export function cutSpecOf(manifest: Manifest): CutSpec | undefined {
  const sampleShape = manifest.cut.tensor.shape.slice(1);
  if (!sampleShape.every((d): d is number => typeof d === 'number' && d > 0)) return undefined;
  return {
    modelId: manifest.modelId,
    id: manifest.cut.id,
    depth: cutDepth(manifest.cut.id),
    sampleShape,
    encodings: [...manifest.wire.encodings],
    head: (manifest.training?.trainables ?? []).filter((t) => t.owner === 'head').map((t) => t.name),
  };
}

export interface ConfigureInput {
  planning: PlanningConfig;
  /** The federation's fixed choice, for devices that cannot be planned. */
  fixed: { uplink: Encoding; downlink: Encoding; batchSize: number; localEpochs: number };
  /** The federation's cuts, its own model's first: a device that cannot be planned gets that one. */
  cuts: readonly CutSpec[];
  /** The tail's time per sample at the edge as sessions measured it, per model; absent before any did. */
  tailMsPerSample: ReadonlyMap<string, number>;
  deadlineS: number;
  /** The federation's SplitFed mode; `auto` is decided here (splitFedMode). Default v1. */
  splitfed?: SplitFedConfig;
  devices: ReadonlyArray<{ deviceId: string; profile: DeviceProfileReport | null }>;
}

export interface DeviceAssignment {
  /** The build of the model the device trains this round, and its cut. */
  modelId: string;
  cut: string;
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
    /** Per-device tails or one shared tail this round. */
    splitfed: SplitFedMode;
    /** The share of the planned devices' samples kept, when the plan trimmed stragglers' steps. */
    work?: number;
  };
}

/**
 * Per-device tails (v1) unless the round's devices outnumber the tails the
 * edge holds at once (`edgeSessions`): then one shared tail (v2), whose cost
 * at the edge is one tail's memory and state whatever the round's size. What
 * v2 gives up is parallelism, as the planner then counts it: the devices'
 * steps take turns, so the round lasts at least the sum of their tail times.
 */
export function splitFedMode(mode: SplitFedConfig, devices: number, edgeSessions?: number): SplitFedMode {
  if (mode !== 'auto') return mode;
  return edgeSessions !== undefined && devices > edgeSessions ? 'v2' : 'v1';
}

/**
 * What the planner knows of a device, or null when its profile lacks what
 * planning needs: its link, and its head's time at one of `cuts` at least
 * (it is offered the cuts it has timed).
 */
export function plannerProfile(
  deviceId: string,
  profile: DeviceProfileReport | null,
  cuts: readonly string[],
  work: { batchSize: number; localEpochs: number },
  /** Whether the round has a cell to give a reported radio a share of (planning.bandwidthHz). */
  cell = false,
): DeviceProfile | null {
  if (!profile?.uplinkBps || !profile.downlinkBps) return null;
  // A cut whose measured head peak is over the device's declared memory is not offered; a device
  // that fits none is planned as one without a profile.
  const limit = profile.memoryLimitBytes ?? Number.POSITIVE_INFINITY;
  const timed = cuts.filter(
    (c) => profile.headMsPerSample[c] !== undefined && (profile.headPeakBytes?.[c] ?? 0) <= limit,
  );
  if (timed.length === 0) return null;
  // A device that has not said how much it holds is planned for one batch per epoch.
  const held = profile.samples ?? work.batchSize;
  return {
    deviceId,
    headMsPerSample: Object.fromEntries(timed.map((c) => [c, profile.headMsPerSample[c]])),
    ...(profile.memoryLimitBytes !== undefined ? { memoryLimitBytes: profile.memoryLimitBytes } : {}),
    uplinkBps: profile.uplinkBps,
    downlinkBps: profile.downlinkBps,
    rttMs: profile.rttMs ?? 0,
    ...(profile.power ? { power: { computeW: profile.power.computeW, radioW: profile.power.radioW } } : {}),
    ...(cell && profile.radio ? { radio: { ...profile.radio } } : {}),
    samples: held * work.localEpochs,
    steps: Math.ceil(held / work.batchSize) * work.localEpochs,
  };
}

/** The cut's costs: bytes per sample at every encoding it accepts and the planning floor allows. */
export function cutCost(cut: CutSpec, planning: PlanningConfig, tailMsPerSample?: number): CutCost {
  const bytes = bytesPerSample(cut.sampleShape);
  const allowed = (min: number) =>
    Object.fromEntries(cut.encodings.filter((e) => BITS[e] >= min).map((e) => [e, bytes[e]]));
  return {
    cut: cut.id,
    depth: cut.depth,
    uplinkBytesPerSample: allowed(planning.minUplinkBits),
    downlinkBytesPerSample: allowed(planning.minDownlinkBits),
    tailMsPerSample: tailMsPerSample ?? planning.tailMsPerSample,
    minUplinkBits: planning.minUplinkBits,
    minDownlinkBits: planning.minDownlinkBits,
  };
}

/** Plans one round. Throws PlanError (strategy/plan/planner.ts) when no plan fits. */
export function configureRound(input: ConfigureInput): RoundPlan {
  const { planning, fixed, cuts } = input;
  const n = input.devices.length;
  const splitfed = splitFedMode(input.splitfed ?? 'v1', n, planning.edgeSessions);
  const pace = planning.pace;
  const byId = new Map(cuts.map((c) => [c.id, c]));
  const allowed = cuts.filter((c) => c.depth >= planning.minDepth);
  // A device that cannot be planned trains at the federation's own cut, or the
  // shallowest the privacy floor allows when that one is below it.
  const primary =
    cuts[0].depth >= planning.minDepth
      ? cuts[0]
      : ([...allowed].sort((a, b) => a.depth - b.depth)[0] ?? cuts[0]);
  const profiles: DeviceProfile[] = [];
  const unprofiled: string[] = [];
  for (const d of input.devices) {
    const p = plannerProfile(
      d.deviceId,
      d.profile,
      allowed.map((c) => c.id),
      fixed,
      planning.bandwidthHz !== undefined,
    );
    if (p) profiles.push(p);
    else unprofiled.push(d.deviceId);
  }
  const equalRate = n === 0 ? 0 : planning.uplinkBudgetBps / n;
  const assignments = new Map<string, DeviceAssignment>();
  for (const deviceId of unprofiled) {
    assignments.set(deviceId, {
      modelId: primary.modelId,
      cut: primary.id,
      uplink: fixed.uplink,
      downlink: fixed.downlink,
      plan: { share: 1 / n, rateBps: equalRate, latencyS: 0, energyJ: 0, paced: pace },
    });
  }
  if (profiles.length === 0) {
    return {
      assignments,
      summary: { method: 'exact', latencyS: 0, energyJ: 0, meetsDeadline: true, unprofiled, splitfed },
    };
  }
  const budget = planning.uplinkBudgetBps * (profiles.length / n);
  const planFor = (devices: DeviceProfile[]) =>
    planRound({
      devices,
      cuts: cuts.map((c) => cutCost(c, planning, input.tailMsPerSample.get(c.modelId))),
      uplinkBudgetBps: budget,
      // The unprofiled devices' equal parts are taken from the band as from the budget.
      ...(planning.bandwidthHz ? { bandwidthHz: (planning.bandwidthHz * profiles.length) / n } : {}),
      deadlineS: input.deadlineS,
      lambda: planning.lambda,
      minDepth: planning.minDepth,
      ...(splitfed === 'v2'
        ? { sharedTail: true }
        : planning.edgeSessions
          ? { edgeSessions: planning.edgeSessions }
          : {}),
    });
  let plan = planFor(profiles);
  let planned = profiles;
  let work = 1;
  if (planning.minWork < 1) {
    const trimmed = trimWork(
      profiles,
      plan.devices.map((d) => d.latencyS),
      planning.minWork,
    );
    // Planned again: the work a straggler no longer does frees budget for the others.
    if (trimmed.work < 1) {
      planned = trimmed.devices;
      work = trimmed.work;
      plan = planFor(planned);
    }
  }
  plan.devices.forEach((d, i) => {
    const trimmed = planned[i].steps < profiles[i].steps;
    assignments.set(d.deviceId, {
      modelId: byId.get(d.cut)!.modelId,
      cut: d.cut,
      uplink: d.uplink,
      downlink: d.downlink,
      plan: {
        share: (d.share * budget) / planning.uplinkBudgetBps,
        rateBps: d.rateBps,
        latencyS: d.latencyS,
        energyJ: d.energyJ,
        paced: pace,
        ...(trimmed ? { steps: planned[i].steps } : {}),
        ...(d.powerW !== undefined ? { powerW: d.powerW } : {}),
      },
    });
  });
  return {
    assignments,
    summary: {
      method: plan.method,
      latencyS: plan.latencyS,
      energyJ: plan.energyJ,
      meetsDeadline: plan.meetsDeadline,
      unprofiled,
      splitfed,
      ...(work < 1 ? { work } : {}),
    },
  };
}

/**
 * Trims the stragglers' work: T is the earliest time by which the devices,
 * each at its planned latency `latencyS[i]` for all of its work, would have
 * done `minWork` of the round's samples between them, a device's work taken
 * to scale with its steps (its compute, transfers and round trips all do). A
 * device planned past T keeps the steps that fit by T, rounded up, so the
 * round keeps at least `minWork`; the others keep all of theirs.
 */
export function trimWork(
  devices: readonly DeviceProfile[],
  latencyS: readonly number[],
  minWork: number,
): { devices: DeviceProfile[]; work: number } {
  const total = devices.reduce((n, d) => n + d.samples, 0);
  if (minWork >= 1 || total === 0) return { devices: [...devices], work: 1 };
  const kept = (T: number) =>
    devices.reduce((n, d, i) => n + d.samples * Math.min(1, latencyS[i] > 0 ? T / latencyS[i] : 1), 0);
  let lo = 0;
  let hi = Math.max(0, ...latencyS);
  for (let k = 0; k < 60 && hi - lo > 1e-9 * hi; k++) {
    const mid = (lo + hi) / 2;
    if (kept(mid) >= minWork * total) hi = mid;
    else lo = mid;
  }
  const out = devices.map((d, i) => {
    if (!(latencyS[i] > hi) || d.steps <= 1) return d;
    const steps = Math.max(1, Math.ceil((d.steps * hi) / latencyS[i]));
    return { ...d, steps, samples: (d.samples * steps) / d.steps };
  });
  return { devices: out, work: out.reduce((n, d) => n + d.samples, 0) / total };
}
