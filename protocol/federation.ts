// The federated fine-tuning API: what admins, devices, Workers and Durable
// Objects exchange about a federation. Validated with zod on every side.
import { z } from 'zod';
import { ENCODINGS } from './encoding.js';
import { EvaluationRecord } from './evaluation.js';
import { TrainableSpec } from './manifest.js';
import { DeviceProfileReport } from './profile.js';
import { MAX_TOKEN_NOISE } from './token-noise.js';

export const FederationId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes');
export const DeviceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

export const OptimizerConfig = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('sgd'),
    lr: z.number().positive().max(10),
    momentum: z.number().min(0).max(0.999).default(0),
    weightDecay: z.number().min(0).max(1).default(0),
  }),
  z.object({
    kind: z.literal('adamw'),
    lr: z.number().positive().max(10),
    weightDecay: z.number().min(0).max(1).default(0.01),
  }),
]);
export type OptimizerConfig = z.infer<typeof OptimizerConfig>;

/**
 * How both sides' learning rates move from round to round. The coordinator
 * writes each round's rate into the optimizers it hands out, so devices and
 * sessions only ever see a plain OptimizerConfig.
 */
export const LrSchedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  z.object({
    kind: z.literal('cosine'),
    /** The last round's rate as a fraction of the configured one. */
    floor: z.number().min(0).max(1).default(0.05),
  }),
]);
export type LrSchedule = z.infer<typeof LrSchedule>;

/**
 * How a round's updates become the next version (strategy/aggregate.ts). Every
 * strategy but plain FedAvg works on the clients' deltas from the round's
 * starting version and keeps each update until the round closes.
 */
export const StrategyConfig = z.discriminatedUnion('kind', [
  /** Sample-weighted mean, folded in as updates arrive. */
  z.object({ kind: z.literal('fedavg') }),
  /** Weighted mean of deltas clipped to a norm bound, fixed or a quantile of the round's norms times a multiplier. */
  z.object({
    kind: z.literal('clipped-fedavg'),
    bound: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('fixed'), norm: z.number().positive().finite() }),
        z.object({
          kind: z.literal('adaptive'),
          quantile: z.number().gt(0).max(1).default(0.5),
          multiplier: z.number().positive().max(100).default(2),
        }),
      ])
      .default({ kind: 'adaptive', quantile: 0.5, multiplier: 2 }),
  }),
  /** Coordinate-wise median of the deltas. */
  z.object({ kind: z.literal('median') }),
  /** Coordinate-wise mean of the deltas after cutting the `trim` share of values at each end. */
  z.object({ kind: z.literal('trimmed-mean'), trim: z.number().min(0).lt(0.5).default(0.2) }),
  /**
   * Multi-Krum: the clients whose deltas sit closest to their nearest
   * neighbours, tolerating a `byzantine` share of attackers; `keep` of them
   * (default: all but the tolerated attackers) averaged by weight.
   */
  z.object({
    kind: z.literal('multi-krum'),
    byzantine: z.number().min(0).lt(0.5).default(0.2),
    keep: z.number().gt(0).max(1).optional(),
  }),
  /**
   * Client-level differential privacy (DP-FedAvg, McMahan et al. 2018): each
   * client's delta clipped to `clip` in L2 norm, the clipped deltas summed,
   * Gaussian noise of standard deviation noiseMultiplier × clip added, and the
   * sum divided by clientsPerRound. Every client counts alike (a sample-count
   * weight would let one client's contribution exceed the clip). The ε spent
   * at `delta` is accounted after every round (strategy/privacy/); with an
   * `epsilonBudget`, the federation finishes before a round would exceed it.
   */
  z.object({
    kind: z.literal('dp-fedavg'),
    clip: z.number().positive().finite(),
    noiseMultiplier: z.number().positive().max(1000),
    delta: z.number().gt(0).max(0.01).default(1e-5),
    epsilonBudget: z.number().positive().finite().optional(),
  }),
]);
export type StrategyConfig = z.infer<typeof StrategyConfig>;

/** What a new federation aggregates with unless told otherwise: bounded, so one device cannot break it. */
export const DEFAULT_STRATEGY: StrategyConfig = {
  kind: 'clipped-fedavg',
  bound: { kind: 'adaptive', quantile: 0.5, multiplier: 2 },
};

/**
 * Limits an update must meet to be accepted at all (a 422 otherwise, which the
 * device may fix and resubmit): the largest absolute value of any adapter
 * value, and optionally the largest L2 norm of its delta from the round's
 * starting version.
 */
export const UpdateBound = z.object({
  maxAbs: z.number().positive().finite().default(100),
  maxDeltaNorm: z.number().positive().finite().optional(),
});
export type UpdateBound = z.infer<typeof UpdateBound>;

/**
 * Secure aggregation of the device-side updates (protocol/secagg/): the
 * coordinator learns only their sum. `threshold` is the share of a round's
 * selected devices that every phase needs (fewer and the round fails); it
 * must be over half, so that the coordinator cannot gather both secrets of
 * one device from honest ones. The phases close at these shares of the
 * round's window (opened → deadline) at the latest, and the unmask phase at
 * the deadline.
 */
export const SecureAggregationConfig = z
  .object({
    threshold: z.number().gt(0.5).max(1).default(0.6),
    fractionalBits: z.number().int().min(8).max(32).default(24),
    keysBy: z.number().gt(0).lt(1).default(0.15),
    sharesBy: z.number().gt(0).lt(1).default(0.3),
    maskedBy: z.number().gt(0).lt(1).default(0.85),
  })
  .refine((s) => s.keysBy < s.sharesBy && s.sharesBy < s.maskedBy, {
    message: 'the phases close in order: keysBy < sharesBy < maskedBy',
  });
export type SecureAggregationConfig = z.infer<typeof SecureAggregationConfig>;

/**
 * Per-device planning of each round (strategy/plan/): what the operator
 * declares. The coordinator plans the selected devices from their reported
 * profiles (protocol/profile.ts) when a round opens and puts each device's
 * encodings and uplink rate in its ticket; sessions pace steps to that rate.
 */
export const SPLITFED_MODES = ['v1', 'v2'] as const;
/** Per-device tails (v1) or one shared tail per round (v2). */
export const SplitFedMode = z.enum(SPLITFED_MODES);
export type SplitFedMode = z.infer<typeof SplitFedMode>;
export const SplitFedConfig = z.enum([...SPLITFED_MODES, 'auto']);
export type SplitFedConfig = z.infer<typeof SplitFedConfig>;

export const PlanningConfig = z
  .object({
    /** The uplink capacity the round's devices share: the site's or cell's (bits per second). */
    uplinkBudgetBps: z.number().positive().max(1e12),
    /** Joules of device energy are worth λ seconds of round latency; 0 plans for latency alone. */
    lambda: z.number().min(0).max(1e6).default(0),
    /**
     * The fewest bits per value each way that keep the fine-tune's accuracy
     * at this model's cut (measured: EXPERIMENTS.md); narrower encodings are
     * never planned. The defaults are what was measured for vit-fashion:
     * int4 activations lost 0.05 points; gradients were measured at int8
     * only, so nothing narrower is planned for them unless the operator says.
     */
    minUplinkBits: z.number().int().min(2).max(32).default(4),
    minDownlinkBits: z.number().int().min(2).max(32).default(8),
    /**
     * The privacy floor: the fewest encoder blocks a device must run, so that
     * no device is planned at a cut shallower than the operator accepts
     * (EXPERIMENTS.md, "A deeper cut"). `embed` is depth 0, `block<k>` k + 1.
     */
    minDepth: z.number().int().min(0).max(1000).default(0),
    /** Devices the edge trains at once (more share its time); absent: no limit. */
    edgeSessions: z.number().int().positive().max(100_000).optional(),
    /** The tail's forward and backward per sample at the edge (ms) until sessions have measured it. */
    tailMsPerSample: z.number().positive().max(60_000).default(1),
    /** Sessions hold each device to its planned uplink rate (429 with Retry-After past it). */
    pace: z.boolean().default(true),
    /**
     * The least share of the round's samples the plan keeps (0–1]. Below 1,
     * a device whose planned round would end after the time by which the
     * round's devices finish this share does only the local steps that fit by
     * then, and the round is planned again with that work. 1: every device
     * does all of its work.
     */
    minWork: z.number().gt(0).max(1).default(1),
    /**
     * The cell's bandwidth (Hz), for devices that report a radio model: they
     * share it, and the planner chooses each one's transmit power, instead
     * of sharing `uplinkBudgetBps`. Absent: every device is planned by its
     * measured link.
     */
    bandwidthHz: z.number().positive().max(1e11).optional(),
  })
  .strict();
export type PlanningConfig = z.infer<typeof PlanningConfig>;

/** Everything an admin decides when creating a federation. */
export const FederationConfig = z
  .object({
    /** A bundled model whose manifest has a `training` part. */
    modelId: z.string().min(1),
    /**
     * More builds of the same model at other cuts: the same trainables (names,
     * shapes, initial values), split between device and edge elsewhere. The
     * planner gives each device one of these or `modelId`; every strategy
     * aggregates by tensor name, whichever side trained it.
     */
    cuts: z.array(z.string().min(1)).max(8).optional(),
    rounds: z.number().int().positive().max(10_000),
    clientsPerRound: z.number().int().positive().max(1000),
    /** Minimum submissions for a round to publish at its deadline. */
    quorum: z.number().int().positive().max(1000),
    roundDeadlineSeconds: z
      .number()
      .positive()
      .max(7 * 24 * 3600),
    localEpochs: z.number().int().positive().max(100),
    batchSize: z.number().int().positive().max(1024),
    uplink: z.enum(ENCODINGS),
    downlink: z.enum(ENCODINGS),
    /** Bytes (activations up + gradients down) one client may move in one round. */
    budgetBytesPerRound: z.number().int().positive(),
    headOptimizer: OptimizerConfig,
    tailOptimizer: OptimizerConfig,
    lrSchedule: LrSchedule.default({ kind: 'constant' }),
    strategy: StrategyConfig.default(DEFAULT_STRATEGY),
    updateBound: UpdateBound.default({ maxAbs: 100 }),
    /**
     * Hold a round's version back (not current, not served as `latest`) when
     * its accuracy on the operator's evaluation set is more than `margin`
     * below its parent's. Needs an evaluation set (PUT …/evaluation-set);
     * without one, versions publish as usual.
     */
    hold: z.object({ margin: z.number().min(0).max(1) }).optional(),
    /** A device allowed to report evaluations of versions (POST …/versions/:v/evaluation). */
    evaluator: DeviceId.optional(),
    /**
     * σ of the per-token activation noise devices add before quantizing, as a
     * share of each token's RMS (protocol/token-noise.ts): a defence against
     * reconstruction from the uplink, at a cost in accuracy. 0: none.
     */
    activationNoise: z.number().min(0).max(MAX_TOKEN_NOISE).default(0),
    /**
     * Weight α of the NoPeek penalty devices add to their loss: α × the
     * squared distance correlation between each batch's pixels and the
     * activation sent (common/distance-correlation.ts), which trains the
     * head to send activations that say less about the input. 0: none.
     */
    decorrelation: z.number().min(0).max(100).default(0),
    /**
     * Mask the device-side updates so the coordinator sees only their sum.
     * Needs `fedavg` or `dp-fedavg` (a robust strategy needs each update) and
     * at least 3 clients per round. With `dp-fedavg` the devices clip their
     * own head deltas and add their share of the noise (distributed Gaussian),
     * so the sum the coordinator unmasks is already private.
     */
    secureAggregation: SecureAggregationConfig.optional(),
    /**
     * Plan each round per device (encodings, uplink share) from measured
     * profiles; absent: every device gets `uplink`, `downlink` and no pacing.
     */
    planning: PlanningConfig.optional(),
    /**
     * How the edge holds the tail during a round. `v1` (SplitFed V1): each
     * selected device trains its own copy, and the tails are averaged like
     * the heads. `v2` (SplitFed V2): one shared tail per round, which every
     * device's steps update in turn; the round publishes it as it stands
     * after the last submitted step, and averages only the heads. `auto`:
     * the planner picks v2 for a round whose selected devices outnumber
     * `planning.edgeSessions` (the per-device tails the edge holds at once),
     * v1 otherwise.
     */
    splitfed: SplitFedConfig.default('v1'),
    /** Seeds client selection. */
    seed: z.number().int().default(0),
  })
  .refine((c) => c.quorum <= c.clientsPerRound, {
    message: 'quorum must not exceed clientsPerRound',
    path: ['quorum'],
  })
  .refine((c) => !c.secureAggregation || c.strategy.kind === 'fedavg' || c.strategy.kind === 'dp-fedavg', {
    message:
      'secure aggregation works with the fedavg and dp-fedavg strategies only: the others need every update',
    path: ['secureAggregation'],
  })
  .refine((c) => !c.secureAggregation || !c.cuts?.length, {
    message: 'secure aggregation masks one head layout: it does not work with several cuts',
    path: ['cuts'],
  })
  .refine((c) => !c.cuts?.length || c.planning, {
    message: 'several cuts need planning: the planner chooses each device’s',
    path: ['cuts'],
  })
  .refine((c) => c.splitfed === 'v1' || c.strategy.kind === 'fedavg', {
    message:
      'a shared tail (splitfed v2 or auto) works with the fedavg strategy only: every step of every device moves it, so no strategy can leave one device out of it',
    path: ['splitfed'],
  })
  .refine((c) => c.splitfed === 'v1' || (!c.secureAggregation && !c.cuts?.length), {
    message:
      'a shared tail (splitfed v2 or auto) needs one cut and the tail in the clear: not with secure aggregation or several cuts',
    path: ['splitfed'],
  })
  .refine((c) => c.splitfed !== 'auto' || c.planning?.edgeSessions !== undefined, {
    message: 'splitfed auto chooses by the edge’s capacity: declare planning.edgeSessions',
    path: ['splitfed'],
  })
  .refine((c) => !c.secureAggregation || c.clientsPerRound >= 3, {
    message: 'secure aggregation needs at least 3 clients per round',
    path: ['secureAggregation'],
  });
export type FederationConfig = z.infer<typeof FederationConfig>;
export type FederationConfigInput = z.input<typeof FederationConfig>;

/** `held`: the round made a version that scored worse than its parent and was not made current. */
export const ROUND_STATUSES = [
  'open',
  'training',
  'aggregating',
  'evaluating',
  'published',
  'held',
  'failed',
] as const;
export type RoundStatus = (typeof ROUND_STATUSES)[number];

/** A device's share of a planned round (strategy/plan/planner.ts), as its ticket carries it. */
export const TicketPlan = z.object({
  /** Share of the declared uplink budget, and the rate it stands for (bits per second). */
  share: z.number().min(0).max(1),
  rateBps: z.number().nonnegative(),
  /** What the planner expects of the device's round: seconds and joules. */
  latencyS: z.number().nonnegative(),
  energyJ: z.number().nonnegative(),
  /** Whether its session holds the device's steps to `rateBps`. */
  paced: z.boolean(),
  /** The local steps the plan gives the device this round, when it trims its work (planning.minWork); absent: all. */
  steps: z.number().int().positive().optional(),
  /** A radio device's planned transmit power (W): the least that finishes its upload in its planned time. */
  powerW: z.number().nonnegative().optional(),
});
export type TicketPlan = z.infer<typeof TicketPlan>;

/** What a selected device needs to take part in a round. */
export const Ticket = z.object({
  federationId: FederationId,
  deviceId: DeviceId,
  round: z.number().int().nonnegative(),
  /** Version of the global adapters this round starts from (head and tail are published together). */
  version: z.number().int().nonnegative(),
  modelId: z.string(),
  cut: z.string(),
  uplink: z.enum(ENCODINGS),
  downlink: z.enum(ENCODINGS),
  batchSize: z.number().int().positive(),
  localEpochs: z.number().int().positive(),
  budgetBytes: z.number().int().positive(),
  /** Unix milliseconds. */
  deadline: z.number().int(),
  headOptimizer: OptimizerConfig,
  /** Per-token activation noise the device adds before quantizing (protocol/token-noise.ts); absent or 0: none. */
  activationNoise: z.number().min(0).max(MAX_TOKEN_NOISE).optional(),
  /** Weight of the NoPeek distance-correlation penalty in the device's loss; absent or 0: none. */
  decorrelation: z.number().min(0).max(100).optional(),
  /** Present when the round was planned: the device's share; `uplink` and `downlink` are its planned encodings. */
  plan: TicketPlan.optional(),
  /** `v2`: the round trains one shared tail, and this device's steps take their turn on it. Absent: `v1`. */
  splitfed: SplitFedMode.optional(),
  /**
   * Present when the round aggregates the device updates securely: the
   * device runs the protocol (protocol/secagg/) at …/rounds/:round/secagg and
   * submits its masked update to …/secagg/masked, by `maskedBy`.
   */
  secureAggregation: z
    .object({
      /** Binds the round's keys and shares: `federation/round`. */
      context: z.string().min(1).max(200),
      threshold: z.number().int().min(2),
      fractionalBits: z.number().int().min(8).max(32),
      /** Unix milliseconds: the last moment for the masked update. */
      maskedBy: z.number().int(),
      /**
       * DP-FedAvg: the device clips its head delta to `clip` (L2), adds
       * Gaussian noise of `noiseStd` per value, and masks it unweighted.
       * Absent: it masks sampleCount × its delta.
       */
      dp: z.object({ clip: z.number().positive(), noiseStd: z.number().nonnegative() }).optional(),
    })
    .optional(),
});
export type Ticket = z.infer<typeof Ticket>;

/**
 * The header a device's steps and submit carry the join's session pass in:
 * the Worker checks it before reaching any object, so only a device that
 * joined the round reaches (or creates) its session.
 */
export const SESSION_PASS_HEADER = 'x-splitflare-session';

/** What POST …/join answers: the ticket, and the round's session pass. */
export const JoinAnswer = Ticket.extend({ sessionPass: z.string().min(1).max(200) });
export type JoinAnswer = z.infer<typeof JoinAnswer>;

/** A device as the coordinator knows it (GET …/devices). */
export const DeviceRecord = z.object({
  deviceId: DeviceId,
  enrolledAt: z.number().int(),
  /** Moves on at every enrolment; only tokens of the current generation are honoured. */
  generation: z.number().int().nonnegative(),
  /** Unix milliseconds; a revoked device's tokens are refused and it is no longer selected. */
  revokedAt: z.number().int().nullable(),
  /** Unix milliseconds of the device's last join or submit; null before its first. */
  lastSeenAt: z.number().int().nullable(),
  /** What the device last reported of itself at a join (protocol/profile.ts); null until it does. */
  profile: DeviceProfileReport.nullable(),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;

/** A device token and what it is good for: the answer to enrolment and to a token refresh. */
export const DeviceToken = z.object({
  federationId: FederationId,
  deviceId: DeviceId,
  generation: z.number().int().nonnegative(),
  token: z.string(),
  /** Unix milliseconds; refresh (POST …/token) or re-enroll before then. */
  expiresAt: z.number().int(),
});
export type DeviceToken = z.infer<typeof DeviceToken>;

/** The answer to enrolment (POST …/devices). */
export const Enrollment = DeviceToken.extend({ enrolledAt: z.number().int() });
export type Enrollment = z.infer<typeof Enrollment>;

/** Metrics a device reports with its update, from its own local data. */
export const ClientMetrics = z.object({
  meanLoss: z.number().nonnegative().finite(),
  accuracy: z.number().min(0).max(1),
  steps: z.number().int().nonnegative(),
});
export type ClientMetrics = z.infer<typeof ClientMetrics>;

/** The privacy ledger of one DP-FedAvg round. */
export const RoundPrivacy = z.object({
  samplingRate: z.number().min(0).max(1),
  noiseMultiplier: z.number().positive(),
  epsilon: z.number().nonnegative(),
  delta: z.number().positive(),
});
export type RoundPrivacy = z.infer<typeof RoundPrivacy>;

export const RoundRecord = z.object({
  round: z.number().int().nonnegative(),
  status: z.enum(ROUND_STATUSES),
  selected: z.array(DeviceId),
  /** The selected devices that have joined, in selection order. */
  joined: z.array(DeviceId),
  participants: z.number().int().nonnegative(),
  samples: z.number().int().nonnegative(),
  meanLoss: z.number().nullable(),
  clientAccuracy: z.number().nullable(),
  uplinkBytes: z.number().int().nonnegative(),
  downlinkBytes: z.number().int().nonnegative(),
  openedAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  /** The version this round published (or held back), if it made one. */
  publishedVersion: z.number().int().nullable(),
  /** Per-device tails (v1) or one shared tail that the devices' steps take turns on (v2). */
  splitfed: SplitFedMode.optional(),
  /** Present when the round was planned: what the planner chose and expected. */
  plan: z
    .object({
      method: z.enum(['exact', 'lagrangian']),
      /** The slowest planned device's seconds, and the devices' joules summed. */
      latencyS: z.number().nonnegative(),
      energyJ: z.number().nonnegative(),
      meetsDeadline: z.boolean(),
      /** Selected devices with no usable profile: they got the fixed encodings and an equal share. */
      unprofiled: z.array(DeviceId),
      /** Per-device tails or one shared tail, as planned (federations with `splitfed: auto` follow it). */
      splitfed: SplitFedMode.optional(),
      /** The share of the selected devices' samples the plan keeps (below 1 when it trimmed work). */
      work: z.number().min(0).max(1).optional(),
    })
    .nullable()
    .optional(),
  /** What the strategy did: the devices whose update went in, those scaled down to the clipping bound. */
  aggregation: z
    .object({
      strategy: z.string(),
      kept: z.array(DeviceId),
      clipped: z.array(DeviceId),
      bound: z.number().nullable(),
      /** DP-FedAvg: the noise's standard deviation on the averaged delta, per coordinate. */
      noiseStd: z.number().nullable().optional(),
      /** DP-FedAvg: this round's sampling rate and the ε spent at δ by every round up to and including it. */
      privacy: RoundPrivacy.optional(),
    })
    .nullable(),
});
export type RoundRecord = z.infer<typeof RoundRecord>;

/** A version's record: which round made it, whether it is published, being evaluated or held back, its last evaluation. */
export const VersionRecord = z.object({
  version: z.number().int().nonnegative(),
  round: z.number().int().nonnegative().nullable(),
  status: z.enum(['evaluating', 'published', 'held']),
  createdAt: z.number().int(),
  evaluation: EvaluationRecord.nullable(),
});
export type VersionRecord = z.infer<typeof VersionRecord>;

export const FederationState = z.object({
  id: FederationId,
  config: FederationConfig,
  /**
   * What the federation trains, fixed when its model was built (the training
   * graphs are generated ahead of time): the cut and every trainable tensor.
   */
  cut: z.string(),
  trainables: z.array(TrainableSpec),
  status: z.enum(['running', 'finished', 'closed']),
  devices: z.number().int().nonnegative(),
  currentRound: RoundRecord.nullable(),
  /** The newest version a round made. */
  latestVersion: z.number().int().nonnegative(),
  /** The version rounds start from and `@latest` serves: the newest, unless pinned, rolled back or held. */
  currentVersion: z.number().int().nonnegative(),
  pinned: z.boolean(),
  /** The operator's held-out set, if one was given: its sha256 and size. */
  evaluationSet: z.object({ digest: z.string(), samples: z.number().int().positive() }).nullable(),
  /**
   * The tail's time per training sample at the edge (ms), per build of the
   * model, as its sessions measured it (their own steps, not a shared tail's
   * queue): what the planner plans with. Absent before any session reported.
   */
  tailMsPerSample: z.record(z.string(), z.number().nonnegative()).optional(),
  /**
   * DP-FedAvg federations: ε spent so far at the configured δ, the budget, and
   * whether the federation finished because another round would exceed it.
   */
  privacy: z
    .object({
      epsilon: z.number().nonnegative(),
      delta: z.number().positive(),
      epsilonBudget: z.number().positive().nullable(),
      exhausted: z.boolean(),
    })
    .nullable(),
});
export type FederationState = z.infer<typeof FederationState>;

/** A line of GET /v1/federations: what an operator scans a list of federations for. */
export const FederationSummary = z.object({
  id: FederationId,
  modelId: z.string(),
  status: z.enum(['running', 'finished', 'closed']),
  started: z.boolean(),
  devices: z.number().int().nonnegative(),
  rounds: z.number().int().positive(),
  currentRound: z.number().int().nonnegative().nullable(),
  roundStatus: z.enum(ROUND_STATUSES).nullable(),
  latestVersion: z.number().int().nonnegative(),
});
export type FederationSummary = z.infer<typeof FederationSummary>;

export const FederationList = z.object({
  federations: z.array(FederationSummary),
  /** Pass as `?cursor=` for the next page; null on the last. */
  cursor: z.string().nullable(),
});
export type FederationList = z.infer<typeof FederationList>;

export function federationSummary(state: FederationState): FederationSummary {
  return {
    id: state.id,
    modelId: state.config.modelId,
    status: state.status,
    started: state.currentRound !== null,
    devices: state.devices,
    rounds: state.config.rounds,
    currentRound: state.currentRound?.round ?? null,
    roundStatus: state.currentRound?.status ?? null,
    latestVersion: state.latestVersion,
  };
}
