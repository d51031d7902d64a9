// `npm run byzantine -- [--rounds R] [--eval-every N] [--seed S] [--attacks a,b] [--only id,…] [--quick] [--resume] [--json]`:
// the Byzantine experiment on the FedAvg-LoRA baseline. A seeded 20% of the
// 50 devices attack whenever selected (sign flip, large norm, inflated sample
// count, label flip); each attack runs against plain FedAvg and every robust
// strategy of strategy/, after an attack-free FedAvg run to compare with.
// One run at a time, in this process. Writes each run's results under
// <out>/<id>/ and <out>/byzantine.json (every row, target and exact config),
// prints a Markdown table and one PASS/MISS line per attack on stdout (or,
// with --json, the record). Progress goes to stderr.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Attack } from './sim/baseline/attack.js';
import {
  BYZANTINE_ATTACKS,
  type ByzantineRun,
  byzantineMatrix,
  byzantineRows,
  byzantineTable,
  byzantineTargetLines,
  byzantineTargets,
} from './sim/baseline/byzantine.js';
import { intAtLeast, parseBaselineArgs } from './sim/baseline/config.js';
import { type BaselineResults, writeBaselineResults } from './sim/baseline/results.js';
import { runBaseline } from './sim/baseline/run.js';
import { lineProgress } from './sim/progress.js';

const share = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number in [0, 1]');
  return n;
};

const attackList = (v: string): Attack[] => {
  const names = v.split(',').map((a) => a.trim());
  const unknown = names.filter((a) => !(BYZANTINE_ATTACKS as readonly string[]).includes(a));
  if (unknown.length > 0 || names.length === 0)
    throw new InvalidArgumentError(`expected a comma-separated subset of ${BYZANTINE_ATTACKS.join(', ')}`);
  return names as Attack[];
};

const opts = new Command('byzantine')
  .description(
    'attacks by 20% of the devices against FedAvg and the robust strategies (FedAvg-LoRA baseline)',
  )
  .option('--rounds <n>', 'federated rounds of every run (default 30; 2 with --quick)', intAtLeast(1))
  .option('--eval-every <n>', 'score held-out accuracy every n-th round and the last', intAtLeast(1), 10)
  .option('--eval-samples <n>', 'held-out images (0 = all 14,000)', intAtLeast(0), 0)
  .option('--malicious <share>', 'share of the devices that attack', share, 0.2)
  .option('--attacks <list>', 'run only these attacks (comma-separated; default all)', attackList)
  .option(
    '--only <ids>',
    'run only these setups of the matrix (comma-separated ids, e.g. label-flip-median); the rest are reused with --resume or left out',
    (v: string) => v.split(',').map((s) => s.trim()),
  )
  .option('--seed <n>', 'seeds the partition, selection, shuffles and attackers', intAtLeast(0), 0)
  .option('--out <dir>', 'where every run and byzantine.json go', 'results/byzantine')
  .option('--resume', 'reuse a run whose results.json under --out has exactly this config', false)
  .option('--quick', 'smoke test: 5 clients, 64 examples each, 2 rounds, 500 held-out images', false)
  .option('--json', 'print the record as one JSON object on stdout', false)
  .parse()
  .opts<{
    rounds?: number;
    evalEvery: number;
    evalSamples: number;
    malicious: number;
    attacks?: Attack[];
    only?: string[];
    seed: number;
    out: string;
    resume: boolean;
    quick: boolean;
    json: boolean;
  }>();

const say = (s: string) => process.stderr.write(`${s}\n`);
const settings = {
  rounds: opts.rounds ?? (opts.quick ? 2 : 30),
  seed: opts.seed,
  malicious: opts.malicious,
  attacks: opts.attacks,
  evalEvery: opts.evalEvery,
  evalSamples: opts.quick && opts.evalSamples === 0 ? 500 : opts.evalSamples,
  quick: opts.quick,
  outDir: opts.out,
};

/** A finished run of exactly this config, if --resume and one is on disk. */
async function previous(config: ReturnType<typeof parseBaselineArgs>): Promise<BaselineResults | null> {
  if (!opts.resume) return null;
  try {
    const results = JSON.parse(await readFile(join(config.out, 'results.json'), 'utf8')) as BaselineResults;
    return JSON.stringify(results.config) === JSON.stringify(config) ? results : null;
  } catch {
    return null;
  }
}

const started = performance.now();
const runs: ByzantineRun[] = [];
const matrix = byzantineMatrix(settings);
const unknown = (opts.only ?? []).filter((id) => !matrix.some((s) => s.id === id));
if (unknown.length > 0) {
  say(`--only: no setup ${unknown.join(', ')} in the matrix (${matrix.map((s) => s.id).join(', ')})`);
  process.exit(2);
}
for (const setup of matrix) {
  const config = parseBaselineArgs(setup.argv);
  const done = await previous(config);
  // Another setup than --only names: reused if on disk, else left out of this record.
  if (opts.only && !opts.only.includes(setup.id) && setup.attack !== 'none' && !done) continue;
  if (done) {
    say(`\n== ${setup.id}: reusing ${config.out}/results.json`);
    runs.push({ setup, results: done });
    continue;
  }
  say(`\n== ${setup.id}: ${setup.command}`);
  const results = await runBaseline(config, lineProgress(config.rounds));
  await writeBaselineResults(config.out, results);
  say(
    `== ${setup.id}: ${(results.final_accuracy * 100).toFixed(2)}% in ${results.total_seconds.toFixed(0)} s`,
  );
  runs.push({ setup, results });
}

const rows = byzantineRows(runs);
const targets = byzantineTargets(rows);
const record = {
  created: new Date().toISOString(),
  command: `npm run byzantine -- ${process.argv.slice(2).join(' ')}`.trim(),
  settings: {
    clients: settings.quick ? 5 : 50,
    per_round: settings.quick ? 5 : 10,
    alpha: 0.5,
    rounds: settings.rounds,
    local_epochs: 2,
    batch: 32,
    optimizer: 'adamw',
    lr: 0.002,
    lr_schedule: 'cosine',
    malicious: settings.malicious,
    eval_every: settings.evalEvery,
    eval_samples: settings.evalSamples,
    seed: settings.seed,
    quick: settings.quick,
  },
  malicious_devices: runs.find((r) => r.setup.attack !== 'none')?.results.malicious_devices ?? [],
  wall_seconds: (performance.now() - started) / 1000,
  rows,
  targets,
  // Every run's full record, its exact config and per-round admission and aggregation included.
  runs: runs.map((r) => ({ id: r.setup.id, command: r.setup.command, results: r.results })),
};
await mkdir(settings.outDir, { recursive: true });
const file = join(settings.outDir, 'byzantine.json');
await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);

if (opts.json) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
} else {
  console.log(byzantineTable(rows));
  console.log(`\n${byzantineTargetLines(targets)}`);
  console.log(`\n${file}`);
}
