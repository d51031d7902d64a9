// `npm run sim`: split federated fine-tuning of vit-fashion on Fashion-MNIST
// with N simulated devices in this process (the device SDK's trainer, head on
// onnxruntime-web WASM) against a local Worker on workerd (tail training in
// session objects, FedAvg in the coordinator). Prints a summary (or, with
// --json, exactly one JSON object) and writes results/<name>/results.json
// with charts. Progress goes to stderr.
import Table from 'cli-table3';
import { buildModels } from './build-models.js';
import { parseSimArgs } from './sim/config.js';
import { simProgress } from './sim/progress.js';
import { type SimResults, writeResults } from './sim/results.js';
import { runSimulation } from './sim/run.js';
import { startLocalWorker } from './wrangler-dev.js';

const config = parseSimArgs(process.argv.slice(2));
const say = (s: string) => process.stderr.write(`${s}\n`);

await buildModels({ log: say });
say('starting the Worker (wrangler dev, workerd, 127.0.0.1)...');
const worker = await startLocalWorker();
const stopOnSignal = () => {
  void worker.stop().finally(() => process.exit(130));
};
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);

const progress = simProgress(config.rounds, config.perRound);
let results: SimResults;
try {
  results = await runSimulation(config, worker.url, progress);
} finally {
  progress.stop();
  await worker.stop();
}
const files = await writeResults(config.out, results);

if (config.json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
  const table = new Table({
    head: [
      'round',
      'status',
      'held-out acc',
      'client acc',
      'loss',
      'participants',
      'uplink',
      'downlink',
      'seconds',
    ],
  });
  table.push(['init', '', pct(results.initial_accuracy), '', '', '', '', '', '']);
  for (const r of results.rounds) {
    table.push([
      r.round,
      r.status,
      pct(r.accuracy),
      pct(r.client_accuracy),
      r.mean_loss?.toFixed(3) ?? '-',
      r.participants,
      `${(r.uplink_bytes / 1e6).toFixed(2)} MB`,
      `${(r.downlink_bytes / 1e6).toFixed(2)} MB`,
      r.seconds.toFixed(1),
    ]);
  }
  const c = results.config;
  console.log(
    `\n${c.modelId}: ${c.clients} devices (Dirichlet alpha ${c.alpha}, label skew ${results.label_skew.toFixed(2)}, ` +
      `${results.client_samples.min}-${results.client_samples.max} examples each), ${c.perRound} per round, ` +
      `${c.uplink} activations up, ${c.downlink} gradients down; held-out: ${results.eval_samples} test images.`,
  );
  console.log(table.toString());
  console.log(
    `held-out accuracy ${pct(results.initial_accuracy)} → ${pct(results.final_accuracy)} in ` +
      `${results.total_seconds.toFixed(0)} s\n${files.join('\n')}`,
  );
}
