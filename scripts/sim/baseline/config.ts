// The FedAvg-LoRA baseline's command line. Its flags and defaults are the
// simulator's (SIM_DEFAULTS), so a baseline run and a split run given the same
// flags partition, select, batch and optimize alike; only one learning rate,
// since one device trains every adapter.
import { Command, InvalidArgumentError, Option } from 'commander';
import { scheduledOptimizer } from '../../../strategy/configure.js';
import type { OptimizerConfig } from '../../../protocol/federation.js';
import { lrSchedule, optimizerConfig, SIM_DEFAULTS, type SimConfig } from '../config.js';

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
> & { lr: number };

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
  };
}

/** The optimizer a device builds in `round`, as the simulator's federation prescribes it. */
export function roundOptimizer(c: BaselineConfig, round: number): OptimizerConfig {
  return scheduledOptimizer(optimizerConfig(c, c.lr), lrSchedule(c.lrSchedule), round, c.rounds);
}
