// `npm run experiments -- [--rounds R] [--local-epochs E] [--lr-schedule cosine] [--seed S] [--quick]`:
// the experiment matrix behind the project's accuracy and traffic claims. The
// split federation at fp32, int8, int4 and int2 uplink (int8 downlink) on one
// local Worker, then the FedAvg-LoRA baseline in this process, all with the
// same seed, data and rounds; the centralized figure comes from its committed
// record. Writes results/experiments/experiments.json (every result and exact
// config) and each run's own results, prints a Markdown table and the targets
// as PASS/MISS lines on stdout. Progress goes to stderr.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { buildModels } from './build-models.js';
import { intAtLeast, parseBaselineArgs } from './sim/baseline/config.js';
import { experimentMatrix, type SflUplink } from './sim/baseline/matrix.js';
import {
  type Centralized,
  checkTargets,
  comparisonRows,
  markdownTable,
  type RunOutcome,
  targetLines,
} from './sim/baseline/report.js';
import { writeBaselineResults } from './sim/baseline/results.js';
import { runBaseline } from './sim/baseline/run.js';
import { parseSimArgs, SIM_DEFAULTS } from './sim/config.js';
import { simProgress } from './sim/progress.js';
import { writeResults } from './sim/results.js';
import { runSimulation } from './sim/run.js';
import { startLocalWorker } from './wrangler-dev.js';

const OUT_DIR = 'results/experiments';
const CENTRAL_RECORD = fileURLToPath(new URL('../models/weights/vit-fashion-central.json', import.meta.url));

const opts = new Command('experiments')
  .description('split federation at fp32/int8/int4/int2 uplink vs FedAvg-LoRA vs centralized')
  .option('--rounds <n>', `federated rounds (default ${SIM_DEFAULTS.rounds}; 2 with --quick)`, intAtLeast(1))
  .option('--local-epochs <n>', 'local epochs per round', intAtLeast(1), SIM_DEFAULTS.localEpochs)
  .option('--seed <n>', 'seeds every run', intAtLeast(0), SIM_DEFAULTS.seed)
  .addOption(
    new Option('--optimizer <kind>', 'optimizer of every run')
      .choices(['sgd', 'adamw'])
      .default(SIM_DEFAULTS.optimizer),
  )
  .option('--lr <x>', 'learning rate of every run (both sides)', Number, SIM_DEFAULTS.lrHead)
  .addOption(
    new Option('--lr-schedule <kind>', 'learning rate by round')
      .choices(['constant', 'cosine'])
      .default(SIM_DEFAULTS.lrSchedule),
  )
  .option(
    '--eval-samples <n>',
    `held-out images to score every version on (0 = all 14,000; default ${SIM_DEFAULTS.evalSamples})`,
    intAtLeast(0),
    SIM_DEFAULTS.evalSamples,
  )
  .option('--quick', 'smoke test: 3 clients, 2 rounds, 128 examples per client', false)
  .parse()
  .opts<{
    rounds?: number;
    localEpochs: number;
    seed: number;
    optimizer: 'sgd' | 'adamw';
    lr: number;
    lrSchedule: 'constant' | 'cosine';
    evalSamples: number;
    quick: boolean;
  }>();

const say = (s: string) => process.stderr.write(`${s}\n`);
const settings = {
  rounds: opts.rounds ?? (opts.quick ? 2 : SIM_DEFAULTS.rounds),
  localEpochs: opts.localEpochs,
  seed: opts.seed,
  optimizer: opts.optimizer,
  lr: opts.lr,
  lrSchedule: opts.lrSchedule,
  evalSamples: opts.evalSamples,
  quick: opts.quick,
  outDir: OUT_DIR,
};
const matrix = experimentMatrix(settings);
const centralRecord = JSON.parse(await readFile(CENTRAL_RECORD, 'utf8')) as {
  heldout_accuracy: number;
  command: string;
};
const central: Centralized = { accuracy: centralRecord.heldout_accuracy, command: centralRecord.command };

await buildModels({ log: say });
say('starting the Worker (wrangler dev, workerd, 127.0.0.1), shared by every split run...');
const worker = await startLocalWorker();
const stopOnSignal = () => {
  void worker.stop().finally(() => process.exit(130));
};
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);

// Each run's full results, its exact config included (results.config).
const runs: Array<RunOutcome & { kind: 'sfl' | 'fedavg-lora' }> = [];
const sfl = {} as Record<SflUplink, RunOutcome>;
try {
  for (const setup of matrix.sfl) {
    say(`\n== ${setup.label}: ${setup.command}`);
    const config = parseSimArgs(setup.argv);
    const progress = simProgress(config.rounds, config.perRound);
    const results = await runSimulation(config, worker.url, progress).finally(() => progress.stop());
    await writeResults(config.out, results);
    const run = { id: setup.id, label: setup.label, command: setup.command, results };
    sfl[setup.uplink] = run;
    runs.push({ ...run, kind: 'sfl' });
  }
} finally {
  // The baseline needs no Worker: give its memory and cores back first.
  await worker.stop();
}

{
  const setup = matrix.baseline;
  say(`\n== ${setup.label}: ${setup.command}`);
  const config = parseBaselineArgs(setup.argv);
  const progress = simProgress(config.rounds, config.perRound);
  const results = await runBaseline(config, progress).finally(() => progress.stop());
  await writeBaselineResults(config.out, results);
  runs.push({ id: setup.id, label: setup.label, command: setup.command, results, kind: 'fedavg-lora' });
}

const rows = comparisonRows(runs, sfl.fp32, central);
const targets = checkTargets(sfl, central);
await mkdir(OUT_DIR, { recursive: true });
const record = {
  created: new Date().toISOString(),
  command: `npx tsx scripts/experiments.ts ${process.argv.slice(2).join(' ')}`.trim(),
  settings: {
    rounds: settings.rounds,
    local_epochs: settings.localEpochs,
    optimizer: settings.optimizer,
    lr: settings.lr,
    lr_schedule: settings.lrSchedule,
    eval_samples: settings.evalSamples,
    seed: settings.seed,
    quick: settings.quick,
  },
  centralized: { record: 'models/weights/vit-fashion-central.json', ...centralRecord },
  runs,
  rows,
  targets,
};
await writeFile(`${OUT_DIR}/experiments.json`, `${JSON.stringify(record, null, 2)}\n`);

console.log(markdownTable(rows));
console.log(`\n${targetLines(targets)}`);
console.log(
  '\nSFL uplink counts the activation frames of the step routes (as the simulator records them), ' +
    'not the device’s small head-adapter submission; the baseline’s is its adapter uploads.',
);
console.log(`\n${OUT_DIR}/experiments.json`);
