// The simulator's command line and the settings it resolves to. Defaults are
// chosen to finish within minutes on a 2-core machine and still show the
// federation improving held-out accuracy (measured figures in the README of
// the results, see scripts/sim.ts).
import { Command, InvalidArgumentError, Option } from 'commander';
import { ENCODINGS, type Encoding } from '../../protocol/encoding.js';
import type { FederationConfigInput, LrSchedule, OptimizerConfig } from '../../protocol/federation.js';
import type { FleetKind } from './fleet.js';

export interface SimConfig {
  clients: number;
  perRound: number;
  rounds: number;
  alpha: number;
  uplink: Encoding;
  downlink: Encoding;
  localEpochs: number;
  batch: number;
  lrHead: number;
  lrTail: number;
  optimizer: 'sgd' | 'adamw';
  momentum: number;
  /** Round-by-round learning-rate schedule of both sides. */
  lrSchedule: 'constant' | 'cosine';
  seed: number;
  /** Cap on each client's examples after partitioning; 0 keeps them all. */
  samplesPerClient: number;
  /** First images of the held-out test split used for evaluation; 0 uses all. */
  evalSamples: number;
  quorum: number;
  deadlineSeconds: number;
  budgetBytes: number;
  /** Device head runtime: onnxruntime-web WASM (as on devices) or onnxruntime-node. */
  deviceRuntime: 'wasm' | 'node';
  json: boolean;
  out: string;
  modelId: string;
  /** Mask the device updates so the coordinator sees only their sum (plain FedAvg then, as it requires). */
  secureAggregation: boolean;
  /** Plain sample-weighted FedAvg instead of the federation default (clipped FedAvg). */
  plainFedAvg: boolean;
  /** Weight of the NoPeek distance-correlation penalty on the devices' loss (0: none). */
  decorrelation: number;
  /** σ of the per-token noise devices add to the activation before quantizing (0: none). */
  activationNoise: number;
  /** The emulated devices' links, speeds and power (scripts/sim/fleet.ts). */
  fleet: FleetKind;
  /** Plan each round per device (encodings, uplink share) in the coordinator; off: the fixed encodings, equal shares. */
  planner: boolean;
  /** The uplink the round's devices share (bits per second). */
  uplinkBudgetBps: number;
  /** The planner's weight of device energy (J) against round latency (s). */
  lambda: number;
  /** More builds of the model at other cuts the planner may give devices (config.cuts). */
  cuts: string[];
  /** The planner's privacy floor: the fewest encoder blocks on a device. */
  minDepth: number;
  /** Per-device tails (v1), one shared tail per round (v2), or the planner's choice (auto); v2 and auto aggregate by plain FedAvg. */
  splitfed: 'v1' | 'v2' | 'auto';
  /** The tails the edge holds at once, for the planner (planning.edgeSessions); 0: no limit. */
  edgeSessions: number;
  /** The least share of a round's samples the planner keeps when it trims stragglers' steps (planning.minWork). */
  minWork: number;
  /**
   * Links from a Shannon cell of this bandwidth (Hz; scripts/sim/fleet.ts):
   * devices report their radio and the planner chooses their power. 0:
   * log-uniform link rates.
   */
  bandwidthHz: number;
  /**
   * Run in real time: sessions pace each device to its planned rate, each
   * device's answers arrive after its round trip and downlink time, and its
   * compute is this machine's. Checks the virtual clock.
   */
  realtime: boolean;
}

export const SIM_DEFAULTS = {
  clients: 50,
  perRound: 10,
  rounds: 5,
  alpha: 0.5,
  uplink: 'int8',
  downlink: 'int8',
  localEpochs: 1,
  batch: 32,
  lrHead: 0.01,
  lrTail: 0.01,
  optimizer: 'sgd',
  momentum: 0.9,
  lrSchedule: 'constant',
  seed: 0,
  samplesPerClient: 0,
  evalSamples: 2000,
  deadlineSeconds: 3600,
  budgetBytes: 10_000_000_000,
  fleet: 'uniform',
  uplinkBudgetMbps: 20,
  lambda: 0,
} as const;

/**
 * The bit floors a planned fine-tune of vit-fashion keeps to (EXPERIMENTS.md,
 * "Quantization"): int4 activations lost 0.05 points against fp32 and int2
 * 6.1; gradients were measured at int8 only.
 */
export const PLANNED_MIN_BITS = { uplink: 4, downlink: 8 } as const;

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number > 0');
  return n;
};
const nonNegative = (v: string) => {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number >= 0');
  return n;
};
const fraction = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
};

export function parseSimArgs(argv: string[]): SimConfig {
  const d = SIM_DEFAULTS;
  const program = new Command('splitflare-sim')
    .description(
      'Split federated fine-tuning of vit-fashion on Fashion-MNIST: N device trainers in this process, ' +
        'the tail and the coordinator on a local Worker (wrangler dev, workerd).',
    )
    .option('--clients <n>', 'enrolled devices', int(1), d.clients)
    .option('--per-round <n>', 'devices selected per round', int(1), d.perRound)
    .option('--rounds <n>', 'federated rounds', int(1), d.rounds)
    .option(
      '--alpha <a>',
      'Dirichlet concentration of the label split (smaller = more skewed)',
      positive,
      d.alpha,
    )
    .addOption(new Option('--uplink <enc>', 'activation encoding').choices(ENCODINGS).default(d.uplink))
    .addOption(new Option('--downlink <enc>', 'gradient encoding').choices(ENCODINGS).default(d.downlink))
    .option('--local-epochs <n>', 'local epochs per round', int(1), d.localEpochs)
    .option('--batch <n>', 'batch size', int(1), d.batch)
    .option('--lr-head <lr>', 'device-side learning rate', positive, d.lrHead)
    .option('--lr-tail <lr>', 'server-side learning rate', positive, d.lrTail)
    .addOption(
      new Option('--optimizer <kind>', 'optimizer of both sides')
        .choices(['sgd', 'adamw'])
        .default(d.optimizer),
    )
    .option('--momentum <m>', 'SGD momentum', fraction, d.momentum)
    .addOption(
      new Option('--lr-schedule <kind>', 'learning rate by round: constant, or cosine down to 5%')
        .choices(['constant', 'cosine'])
        .default(d.lrSchedule),
    )
    .option('--seed <n>', 'seeds the partition, the selection and the shuffles', int(0), d.seed)
    .option('--samples-per-client <n>', 'cap on each client’s examples (0 = all)', int(0), d.samplesPerClient)
    .option('--eval-samples <n>', 'held-out test images to evaluate on (0 = all)', int(0), d.evalSamples)
    .option(
      '--quorum <n>',
      'submissions a round needs at its deadline (default ceil(0.8 × per-round))',
      int(1),
    )
    .option('--deadline <s>', 'round deadline in seconds', positive, d.deadlineSeconds)
    .option('--budget <bytes>', 'byte budget per client per round', int(1), d.budgetBytes)
    .addOption(
      new Option('--device-runtime <rt>', 'runtime of the device head')
        .choices(['wasm', 'node'])
        .default('wasm'),
    )
    .option('--json', 'print one JSON object on stdout (progress stays on stderr)', false)
    .option(
      '--out <dir>',
      'where results.json and the charts go (default results/sim-<uplink>-a<alpha>-s<seed>)',
    )
    .option('--model <id>', 'model to fine-tune', 'vit-fashion')
    .option(
      '--activation-noise <sigma>',
      'per-token activation noise, as a share of each token’s RMS (0: none)',
      nonNegative,
      0,
    )
    .option(
      '--decorrelation <alpha>',
      'weight of the NoPeek distance-correlation penalty (0: none)',
      nonNegative,
      0,
    )
    .addOption(
      new Option('--fleet <kind>', 'emulated devices: alike, or links, speeds and power drawn per device')
        .choices(['uniform', 'heterogeneous'])
        .default(d.fleet),
    )
    .addOption(
      new Option('--planner <on|off>', 'plan each round per device in the coordinator')
        .choices(['on', 'off'])
        .default('off'),
    )
    .option(
      '--uplink-budget <mbps>',
      'uplink the round’s devices share (Mbit/s)',
      positive,
      d.uplinkBudgetMbps,
    )
    .option(
      '--realtime',
      'emulate the links in real time (paced uplink, delayed answers) to check the virtual clock',
      false,
    )
    .option(
      '--cuts <ids...>',
      'more builds of the model at other cuts, for the planner (e.g. vit-fashion-deep)',
    )
    .option(
      '--min-depth <blocks>',
      'the planner’s privacy floor: fewest encoder blocks on a device',
      int(0),
      0,
    )
    .option(
      '--lambda <l>',
      'the planner’s weight of device joules against round seconds',
      nonNegative,
      d.lambda,
    )
    .addOption(
      new Option(
        '--splitfed <mode>',
        'a tail per device (v1), one shared tail per round (v2), or the planner’s choice by --edge-sessions (auto); v2 and auto imply --fedavg',
      )
        .choices(['v1', 'v2', 'auto'])
        .default('v1'),
    )
    .addOption(
      new Option('--link <kind>', 'device uplinks: log-uniform rates, or from distance in a Shannon cell')
        .choices(['loguniform', 'shannon'])
        .default('loguniform'),
    )
    .option('--bandwidth-mhz <mhz>', 'the Shannon cell’s bandwidth (MHz)', positive, 20)
    .option(
      '--min-work <share>',
      'the least share of a round’s samples the planner keeps, trimming the stragglers’ steps (1: none trimmed)',
      positive,
      1,
    )
    .option('--edge-sessions <n>', 'tails the edge holds at once, for the planner (0: no limit)', int(0), 0)
    .option('--fedavg', 'aggregate by plain sample-weighted FedAvg (default: clipped FedAvg)', false)
    .option(
      '--secure-aggregation',
      'mask the device updates so the coordinator sees only their sum (implies --fedavg)',
      false,
    )
    .parse(argv, { from: 'user' });
  const o = program.opts();
  const perRound = Math.min(o.perRound as number, o.clients as number);
  if (o.realtime && o.planner !== 'on')
    program.error('--realtime needs --planner on: the plan sets each uplink rate');
  if ((o.cuts as string[] | undefined)?.length && o.planner !== 'on') {
    program.error('--cuts needs --planner on: the planner chooses each device’s cut');
  }
  if (o.minWork > 1) program.error('--min-work is a share of the round’s samples: at most 1');
  if (o.minWork < 1 && o.planner !== 'on')
    program.error('--min-work needs --planner on: the planner trims the work');
  if (o.splitfed === 'auto' && (o.planner !== 'on' || !(o.edgeSessions > 0))) {
    program.error(
      '--splitfed auto needs --planner on and --edge-sessions: the planner chooses by the edge’s capacity',
    );
  }
  if (o.splitfed !== 'v1' && (o.secureAggregation || (o.cuts as string[] | undefined)?.length)) {
    program.error(
      '--splitfed v2 shares one tail in the clear at one cut: not with --secure-aggregation or --cuts',
    );
  }
  const quorum = (o.quorum as number | undefined) ?? Math.max(1, Math.ceil(0.8 * perRound));
  if (quorum > perRound) program.error(`--quorum ${quorum} exceeds the devices per round (${perRound})`);
  return {
    clients: o.clients,
    perRound,
    rounds: o.rounds,
    alpha: o.alpha,
    uplink: o.uplink,
    downlink: o.downlink,
    localEpochs: o.localEpochs,
    batch: o.batch,
    lrHead: o.lrHead,
    lrTail: o.lrTail,
    optimizer: o.optimizer,
    momentum: o.momentum,
    lrSchedule: o.lrSchedule,
    seed: o.seed,
    samplesPerClient: o.samplesPerClient,
    evalSamples: o.evalSamples,
    quorum,
    deadlineSeconds: o.deadline,
    budgetBytes: o.budget,
    deviceRuntime: o.deviceRuntime,
    json: o.json,
    out:
      o.out ??
      `results/sim-${o.uplink}-a${o.alpha}-s${o.seed}${o.fleet === 'heterogeneous' ? '-het' : ''}${o.planner === 'on' ? `-plan-l${o.lambda}` : ''}${o.splitfed !== 'v1' ? `-${o.splitfed}` : ''}`,
    modelId: o.model,
    secureAggregation: o.secureAggregation,
    plainFedAvg: o.fedavg || o.secureAggregation || o.splitfed !== 'v1',
    decorrelation: o.decorrelation,
    activationNoise: o.activationNoise,
    fleet: o.fleet,
    planner: o.planner === 'on',
    uplinkBudgetBps: o.uplinkBudget * 1e6,
    lambda: o.lambda,
    cuts: (o.cuts as string[] | undefined) ?? [],
    minDepth: o.minDepth,
    splitfed: o.splitfed,
    edgeSessions: o.edgeSessions,
    minWork: o.minWork,
    bandwidthHz: o.link === 'shannon' ? o.bandwidthMhz * 1e6 : 0,
    realtime: o.realtime,
  };
}

/** The optimizer the command line asks for, at rate `lr` (SGD takes --momentum; AdamW decays weights by 0.01). */
export function optimizerConfig(c: Pick<SimConfig, 'optimizer' | 'momentum'>, lr: number): OptimizerConfig {
  return c.optimizer === 'sgd'
    ? { kind: 'sgd', lr, momentum: c.momentum, weightDecay: 0 }
    : { kind: 'adamw', lr, weightDecay: 0.01 };
}

/** The federation schedule a command-line choice stands for. */
export function lrSchedule(kind: SimConfig['lrSchedule']): LrSchedule {
  return kind === 'cosine' ? { kind: 'cosine', floor: 0.05 } : { kind: 'constant' };
}

/** The federation the simulator creates for this run. */
export function federationConfig(c: SimConfig): FederationConfigInput {
  return {
    modelId: c.modelId,
    rounds: c.rounds,
    clientsPerRound: c.perRound,
    quorum: c.quorum,
    roundDeadlineSeconds: c.deadlineSeconds,
    localEpochs: c.localEpochs,
    batchSize: c.batch,
    uplink: c.uplink,
    downlink: c.downlink,
    budgetBytesPerRound: c.budgetBytes,
    headOptimizer: optimizerConfig(c, c.lrHead),
    tailOptimizer: optimizerConfig(c, c.lrTail),
    lrSchedule: lrSchedule(c.lrSchedule),
    seed: c.seed,
    ...(c.plainFedAvg ? { strategy: { kind: 'fedavg' } } : {}),
    ...(c.secureAggregation ? { secureAggregation: {} } : {}),
    ...(c.decorrelation > 0 ? { decorrelation: c.decorrelation } : {}),
    ...(c.activationNoise > 0 ? { activationNoise: c.activationNoise } : {}),
    ...(c.cuts.length > 0 ? { cuts: c.cuts } : {}),
    ...(c.splitfed !== 'v1' ? { splitfed: c.splitfed } : {}),
    ...(c.planner
      ? {
          planning: {
            uplinkBudgetBps: c.uplinkBudgetBps,
            lambda: c.lambda,
            minUplinkBits: PLANNED_MIN_BITS.uplink,
            minDownlinkBits: PLANNED_MIN_BITS.downlink,
            minDepth: c.minDepth,
            ...(c.edgeSessions > 0 ? { edgeSessions: c.edgeSessions } : {}),
            ...(c.minWork < 1 ? { minWork: c.minWork } : {}),
            ...(c.bandwidthHz > 0 ? { bandwidthHz: c.bandwidthHz } : {}),
            // Time is virtual (scripts/sim/fleet.ts) unless the run checks it in real time.
            pace: c.realtime,
          },
        }
      : {}),
  };
}
