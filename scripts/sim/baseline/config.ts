// The FedAvg-LoRA baseline's command line. Its flags and defaults are the
// simulator's (SIM_DEFAULTS), so a baseline run and a split run given the same
// flags partition, select, batch and optimize alike; only one learning rate,
// since one device trains every adapter. The strategy and the attack flags
// are the baseline's own: the Byzantine experiment (scripts/byzantine.ts).
import { Command, InvalidArgumentError, Option } from 'commander';
import { type OptimizerConfig, StrategyConfig } from '../../../protocol/federation.js';
import { scheduledOptimizer } from '../../../strategy/configure.js';
import { lrSchedule, optimizerConfig, SIM_DEFAULTS, type SimConfig } from '../config.js';
import { ATTACKS, type Attack } from './attack.js';

export const STRATEGIES = [
  'fedavg',
  'clipped-fedavg',
  'median',
  'trimmed-mean',
  'multi-krum',
  'dp-fedavg',
] as const satisfies readonly StrategyConfig['kind'][];

export type BaselineConfig = Pick<
  SimConfig,
  | 'clients'
  | 'perRound'
  | 'rounds'
  | 'alpha'
  | 'localEpochs'
  | 'batch'
  | 'optimizer'
  | 'momentum'
  | 'lrSchedule'
  | 'seed'
  | 'samplesPerClient'
  | 'evalSamples'
  | 'json'
  | 'out'
> & {
  lr: number;
  strategy: StrategyConfig;
  attack: Attack;
  /** Share of the enrolled devices that attack (⌊share × clients⌋ of them). */
  malicious: number;
  /** Weight updates by their claimed count instead of refusing a claim the session did not observe. */
  unverified: boolean;
  /** Score the held-out images after every n-th round (and the last); 1 = every round. */
  evalEvery: number;
};

/** Parses a number and checks it against `valid` (described by `expected` in the error). */
const numberArg = (valid: (n: number) => boolean, expected: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !valid(n)) throw new InvalidArgumentError(`expected ${expected}`);
  return n;
};
export const intAtLeast = (min: number) =>
  numberArg((n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
const positive = numberArg((n) => n > 0 && Number.isFinite(n), 'a number > 0');
const unitInterval = numberArg((n) => n >= 0 && n < 1, 'a number in [0, 1)');
const belowHalf = numberArg((n) => n >= 0 && n < 0.5, 'a number in [0, 0.5)');
const closedUnit = numberArg((n) => n >= 0 && n <= 1, 'a number in [0, 1]');

interface StrategyFlags {
  strategy: StrategyConfig['kind'];
  trim: number;
  krumByzantine: number;
  clipNorm?: number;
  noiseMultiplier: number;
  dpDelta: number;
}

/** The strategy the flags name, its unset parameters from the federation schema's defaults. */
function strategyOf(o: StrategyFlags): StrategyConfig {
  switch (o.strategy) {
    case 'fedavg':
    case 'median':
      return StrategyConfig.parse({ kind: o.strategy });
    case 'clipped-fedavg':
      return StrategyConfig.parse({
        kind: o.strategy,
        bound: o.clipNorm === undefined ? undefined : { kind: 'fixed', norm: o.clipNorm },
      });
    case 'trimmed-mean':
      return StrategyConfig.parse({ kind: o.strategy, trim: o.trim });
    case 'multi-krum':
      return StrategyConfig.parse({ kind: o.strategy, byzantine: o.krumByzantine });
    case 'dp-fedavg':
      if (o.clipNorm === undefined) throw new InvalidArgumentError('dp-fedavg needs --clip-norm');
      return StrategyConfig.parse({
        kind: o.strategy,
        clip: o.clipNorm,
        noiseMultiplier: o.noiseMultiplier,
        delta: o.dpDelta,
      });
  }
}

export function parseBaselineArgs(argv: string[]): BaselineConfig {
  const d = SIM_DEFAULTS;
  const o = new Command('splitflare-baseline')
    .description(
      'FedAvg-LoRA without a split: every selected device trains the whole model ' +
        '(onnxruntime-node, in this process) and uploads all its adapters; same data, ' +
        'selection and settings as `npm run sim`.',
    )
    .option('--clients <n>', 'enrolled devices', intAtLeast(1), d.clients)
    .option('--per-round <n>', 'devices selected per round', intAtLeast(1), d.perRound)
    .option('--rounds <n>', 'federated rounds', intAtLeast(1), d.rounds)
    .option('--alpha <a>', 'Dirichlet concentration of the label split', positive, d.alpha)
    .option('--local-epochs <n>', 'local epochs per round', intAtLeast(1), d.localEpochs)
    .option('--batch <n>', 'batch size', intAtLeast(1), d.batch)
    .option('--lr <lr>', 'learning rate', positive, d.lrHead)
    .addOption(new Option('--optimizer <kind>', 'optimizer').choices(['sgd', 'adamw']).default(d.optimizer))
    .option('--momentum <m>', 'SGD momentum', unitInterval, d.momentum)
    .addOption(
      new Option('--lr-schedule <kind>', 'learning rate by round: constant, or cosine down to 5%')
        .choices(['constant', 'cosine'])
        .default(d.lrSchedule),
    )
    .option('--seed <n>', 'seeds the partition, the selection and the shuffles', intAtLeast(0), d.seed)
    .option(
      '--samples-per-client <n>',
      'cap on each client’s examples (0 = all)',
      intAtLeast(0),
      d.samplesPerClient,
    )
    .option('--eval-samples <n>', 'held-out test images (0 = all)', intAtLeast(0), d.evalSamples)
    .addOption(
      new Option('--strategy <kind>', "how the round's updates are aggregated (strategy/aggregate.ts)")
        .choices(STRATEGIES)
        .default('fedavg'),
    )
    .option('--trim <share>', 'trimmed-mean: share of values cut at each end', belowHalf, 0.2)
    .option('--krum-byzantine <share>', 'multi-krum: share of attackers tolerated', belowHalf, 0.2)
    .option(
      '--clip-norm <c>',
      'clipped-fedavg: a fixed norm bound (default: adaptive, 2 × the median norm); dp-fedavg: the clip',
      positive,
    )
    .option('--noise-multiplier <z>', 'dp-fedavg: noise std as a multiple of the clip', positive, 1)
    .option('--dp-delta <d>', 'dp-fedavg: the δ at which ε is reported', positive, 1e-5)
    .addOption(
      new Option('--attack <kind>', 'what the malicious devices do when selected')
        .choices(ATTACKS)
        .default('none'),
    )
    .option(
      '--malicious <share>',
      'share of the devices that are malicious (seeded, fixed for the run)',
      closedUnit,
      0.2,
    )
    .option(
      '--unverified',
      'weight updates by their claimed sample count instead of refusing a mismatch',
      false,
    )
    .option(
      '--eval-every <n>',
      'score held-out accuracy after every n-th round and the last',
      intAtLeast(1),
      1,
    )
    .option('--json', 'print one JSON object on stdout (progress stays on stderr)', false)
    .option('--out <dir>', 'where results.json and the charts go (default results/baseline-a<alpha>-s<seed>)')
    .parse(argv, { from: 'user' })
    .opts();
  return {
    clients: o.clients,
    // As the simulator: asking for more than are enrolled selects them all.
    perRound: Math.min(o.perRound, o.clients),
    rounds: o.rounds,
    alpha: o.alpha,
    localEpochs: o.localEpochs,
    batch: o.batch,
    lr: o.lr,
    optimizer: o.optimizer,
    momentum: o.momentum,
    lrSchedule: o.lrSchedule,
    seed: o.seed,
    samplesPerClient: o.samplesPerClient,
    evalSamples: o.evalSamples,
    json: o.json,
    out: o.out ?? `results/baseline-a${o.alpha}-s${o.seed}`,
    strategy: strategyOf(o as StrategyFlags),
    attack: o.attack,
    malicious: o.malicious,
    unverified: o.unverified,
    evalEvery: o.evalEvery,
  };
}

/** The optimizer a device builds in `round`, as the simulator's federation prescribes it. */
export function roundOptimizer(c: BaselineConfig, round: number): OptimizerConfig {
  return scheduledOptimizer(optimizerConfig(c, c.lr), lrSchedule(c.lrSchedule), round, c.rounds);
}
