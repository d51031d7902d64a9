// `npx tsx scripts/baseline.ts`: the FedAvg-LoRA baseline the split federation
// is measured against. No split and no Worker: every selected device trains
// the whole adapted model (here, in turn, on onnxruntime-node) and uploads all
// of its adapters; same partition, selection, batches and optimizer as
// `npm run sim` given the same flags. Prints a summary (or, with --json,
// exactly one JSON object in the simulator's format) and writes
// <out>/results.json. Progress goes to stderr. --strategy, --attack and
// their options run it as one cell of the Byzantine experiment
// (scripts/byzantine.ts).
import Table from 'cli-table3';
import { parseBaselineArgs } from './sim/baseline/config.js';
import { writeBaselineResults } from './sim/baseline/results.js';
import { runBaseline } from './sim/baseline/run.js';
import { simProgress } from './sim/progress.js';

const config = parseBaselineArgs(process.argv.slice(2));
const progress = simProgress(config.rounds, config.perRound);
const results = await runBaseline(config, progress).finally(() => progress.stop());
const file = await writeBaselineResults(config.out, results);

if (config.json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(3)} MB`;
  const table = new Table({
    head: ['round', 'held-out acc', 'client loss', 'admitted', 'refused', 'uplink', 'downlink', 'seconds'],
  });
  for (const r of results.rounds) {
    table.push([
      r.round,
      pct(r.accuracy),
      r.mean_loss?.toFixed(3) ?? '-',
      r.participants,
      r.refused,
      mb(r.uplink_bytes),
      mb(r.downlink_bytes),
      r.seconds.toFixed(1),
    ]);
  }
  const c = results.config;
  console.log(
    `\nFedAvg-LoRA, no split: ${c.clients} devices (Dirichlet alpha ${c.alpha}), ${c.perRound} per round, ` +
      `${results.trainable_parameters} trainable parameters each; held-out: ${results.eval_samples} test images.`,
  );
  const attack =
    c.attack === 'none'
      ? 'no attack'
      : `attack ${c.attack} by ${results.malicious_devices.length} devices${c.unverified ? ', sample counts unverified' : ''}`;
  console.log(`strategy ${c.strategy.kind}; ${attack}.`);
  console.log(table.toString());
  console.log(
    `held-out accuracy ${pct(results.initial_accuracy)} → ${pct(results.final_accuracy)} in ` +
      `${results.total_seconds.toFixed(0)} s\n${file}`,
  );
}
