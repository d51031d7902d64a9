// `npm run experiment:fleet -- [--rounds R] [--quick]`: the heterogeneous
// fleet (scripts/sim/fleet.ts) under fixed configurations and under the
// coordinator's planner at several λ, on one local Worker, with the same
// data, seed and rounds. Writes results/fleet/fleet.json (every run's
// summary and exact arguments), each run's own results, and a chart of round
// latency against device energy; prints a Markdown table on stdout.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import type { TopLevelSpec } from 'vega-lite';
import { buildModels } from './build-models.js';
import { intAtLeast } from './sim/baseline/config.js';
import { renderSvg } from './sim/charts.js';
import { parseSimArgs } from './sim/config.js';
import { simProgress } from './sim/progress.js';
import { type SimResults, writeResults } from './sim/results.js';
import { runSimulation } from './sim/run.js';
import { startLocalWorker } from './wrangler-dev.js';

const opts = new Command('experiment:fleet')
  .description('fixed configurations vs the round planner on an emulated heterogeneous fleet')
  .option('--rounds <n>', 'federated rounds of every run', intAtLeast(1), 3)
  .option('--uplink-budget <mbps>', 'uplink the round’s devices share (Mbit/s)', '20')
  .option('--quick', '10 devices, 5 per round, 64 examples each, 2 rounds: a smoke run', false)
  .option('--runs <names...>', 'run only these (the table takes every run found in --out)')
  .option('--out <dir>', 'where the runs and the table go', 'results/fleet')
  .parse()
  .opts();
const OUT_DIR: string = opts.out;

const COMMON = [
  ...(opts.quick
    ? ['--clients', '10', '--per-round', '5', '--samples-per-client', '64', '--eval-samples', '500']
    : ['--clients', '50', '--per-round', '10', '--eval-samples', '2000']),
  ...['--alpha', '0.5', '--seed', '0', '--local-epochs', '2', '--optimizer', 'adamw'],
  ...['--lr-schedule', 'cosine', '--lr-head', '0.002', '--lr-tail', '0.002'],
  ...['--rounds', String(opts.quick ? 2 : opts.rounds), '--fleet', 'heterogeneous'],
  ...['--uplink-budget', String(opts.uplinkBudget)],
];

const RUNS: Array<{ name: string; label: string; args: string[] }> = [
  { name: 'fixed-int8', label: 'fixed: embed, int8 up, int8 down, equal shares', args: ['--uplink', 'int8'] },
  {
    name: 'fixed-fp32',
    label: 'fixed: embed, fp32 up, fp32 down, equal shares',
    args: ['--uplink', 'fp32', '--downlink', 'fp32'],
  },
  { name: 'fixed-int4', label: 'fixed: embed, int4 up, int8 down, equal shares', args: ['--uplink', 'int4'] },
  {
    name: 'fixed-deep-int4',
    label: 'fixed: block1, int4 up, int8 down, equal shares',
    args: ['--model', 'vit-fashion-deep', '--uplink', 'int4'],
  },
  ...[0, 1, 10].map((lambda) => ({
    name: `planner-l${lambda}`,
    label: `planner, embed, λ = ${lambda}`,
    args: ['--planner', 'on', '--lambda', String(lambda)],
  })),
  // The stragglers' steps trimmed, so that the round keeps 90% or 75% of its samples.
  ...[0.9, 0.75].map((minWork) => ({
    name: `planner-l1-work${Math.round(minWork * 100)}`,
    label: `planner, embed, λ = 1, keeps ${Math.round(minWork * 100)}% of the samples`,
    args: ['--planner', 'on', '--lambda', '1', '--min-work', String(minWork)],
  })),
  // SplitFed V1 and V2 compared at the same fixed configuration and plain FedAvg (what V2 aggregates by).
  {
    name: 'v1-fedavg-int8',
    label: 'SplitFed V1 (a tail per device), embed, int8, FedAvg',
    args: ['--uplink', 'int8', '--fedavg'],
  },
  {
    name: 'v2-fedavg-int8',
    label: 'SplitFed V2 (one shared tail), embed, int8, FedAvg',
    args: ['--uplink', 'int8', '--splitfed', 'v2'],
  },
  {
    name: 'planner-auto-l1',
    label: 'planner, λ = 1, the edge holds 4 tails (auto)',
    args: ['--planner', 'on', '--lambda', '1', '--splitfed', 'auto', '--edge-sessions', '4'],
  },
  {
    name: 'v2-fedavg-int4',
    label: 'SplitFed V2 (one shared tail), embed, int4 up, int8 down, FedAvg',
    args: ['--uplink', 'int4', '--splitfed', 'v2'],
  },
  ...[0.75, 0.5].map((minWork) => ({
    name: `planner-auto-l1-work${Math.round(minWork * 100)}`,
    label: `planner, λ = 1, the edge holds 4 tails (auto), keeps ${Math.round(minWork * 100)}% of the samples`,
    args: [
      ...['--planner', 'on', '--lambda', '1', '--splitfed', 'auto', '--edge-sessions', '4'],
      ...['--min-work', String(minWork)],
    ],
  })),
  // A Shannon cell (20 MHz, 23 dBm handsets, 10–500 m): equal shares at full power against the planner's shares and powers.
  {
    name: 'shannon-fixed-int4',
    label: 'Shannon cell, fixed: embed, int4 up, int8 down, equal shares, full power',
    args: ['--link', 'shannon', '--uplink', 'int4'],
  },
  ...[0.1, 1, 10].map((lambda) => ({
    name: `shannon-planner-l${lambda}`,
    label: `Shannon cell, planner (shares and powers), λ = ${lambda}`,
    args: ['--link', 'shannon', '--planner', 'on', '--lambda', String(lambda)],
  })),
  {
    name: 'planner-cuts-l1',
    label: 'planner, embed or block1, λ = 1',
    args: ['--planner', 'on', '--lambda', '1', '--cuts', 'vit-fashion-deep'],
  },
];

const say = (s: string) => process.stderr.write(`${s}\n`);
const todo = RUNS.filter((r) => !opts.runs || (opts.runs as string[]).includes(r.name));
await buildModels({ log: say });
// No run asked for (--runs with none of the names): only the table, from the runs on disk.
const worker = todo.length > 0 ? await startLocalWorker() : null;
try {
  for (const run of todo) {
    const args = [...COMMON, ...run.args, '--out', join(OUT_DIR, run.name)];
    const config = parseSimArgs(args);
    say(`\n${run.label}: npm run sim -- ${args.join(' ')}`);
    const progress = simProgress(config.rounds, config.perRound);
    let results: SimResults;
    try {
      results = await runSimulation(config, worker!.url, progress);
    } finally {
      progress.stop();
    }
    await writeResults(config.out, results);
  }
} finally {
  await worker?.stop();
}

// Every run on disk, this invocation's or an earlier one's (--runs), in the matrix's order.
const outcomes: Array<{ name: string; label: string; args: string[]; results: SimResults }> = [];
for (const run of RUNS) {
  const file = join(OUT_DIR, run.name, 'results.json');
  if (!existsSync(file)) continue;
  const results = JSON.parse(await readFile(file, 'utf8')) as SimResults;
  outcomes.push({ ...run, args: [...COMMON, ...run.args], results });
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const rows = outcomes.map((o) => ({
  run: o.name,
  label: o.label,
  final_accuracy: o.results.final_accuracy,
  mean_round_latency_s: o.results.mean_round_latency_s,
  mean_device_energy_j: o.results.mean_device_energy_j,
  uplink_mb_per_round:
    o.results.rounds.reduce((s, r) => s + r.uplink_bytes, 0) / 1e6 / o.results.rounds.length,
  splitfed: [...new Set(o.results.rounds.map((r) => r.splitfed ?? 'v1'))].join('+'),
  edge_tails: mean(o.results.rounds.map((r) => r.edge_tails ?? 0)),
  edge_state_mb: mean(o.results.rounds.map((r) => r.edge_state_bytes ?? 0)) / 1e6,
  edge_s: mean(o.results.rounds.map((r) => r.edge_s ?? 0)),
  // Device-rounds per cut and encodings over the whole run.
  mix: o.results.rounds.reduce<Record<string, number>>((m, r) => {
    for (const [k, n] of Object.entries(r.encodings)) m[k] = (m[k] ?? 0) + n;
    return m;
  }, {}),
}));
await mkdir(OUT_DIR, { recursive: true });
await writeFile(
  join(OUT_DIR, 'fleet.json'),
  `${JSON.stringify({ common: COMMON, runs: outcomes.map(({ results: _, ...o }, i) => ({ ...o, ...rows[i] })) }, null, 2)}\n`,
);
const spec: TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: {
    text: 'Round latency against device energy',
    subtitle: `heterogeneous fleet, ${opts.uplinkBudget} Mbit/s shared uplink, virtual clock`,
  },
  width: 480,
  height: 300,
  data: { values: rows },
  layer: [
    {
      mark: { type: 'point', filled: true, size: 80 },
      encoding: {
        x: { field: 'mean_round_latency_s', type: 'quantitative', title: 'mean round latency (s)' },
        y: { field: 'mean_device_energy_j', type: 'quantitative', title: 'mean device energy per round (J)' },
        color: { field: 'run', type: 'nominal', title: null },
      },
    },
  ],
};
await writeFile(join(OUT_DIR, 'latency-energy.svg'), await renderSvg(spec));

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
console.log(
  '| run | final accuracy | mean round latency (s) | mean device energy (J) | uplink per round (MB) | tails at the edge | their state (MB) | edge compute per round (s) | device-rounds |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${pct(r.final_accuracy)} | ${r.mean_round_latency_s.toFixed(1)} | ${r.mean_device_energy_j.toFixed(2)} | ${r.uplink_mb_per_round.toFixed(1)} | ${r.edge_tails.toFixed(0)} (${r.splitfed}) | ${r.edge_state_mb.toFixed(2)} | ${r.edge_s.toFixed(1)} | ${Object.entries(
      r.mix,
    )
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ')} |`,
  );
}
