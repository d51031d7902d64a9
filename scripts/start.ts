// `npm start`: build what is needed, start the Worker and its shard scripts
// on workerd (wrangler dev on loopback, local R2), publish the models to the
// local registry, run the device SDK in Node on real MNIST images at every
// encoding, print what split inference costs and keeps, and stop the Worker.
//
// `--model vit-b16` (or `--onnx <your export>`) takes the large-model path
// (scripts/large/start.ts): quantized, sharded tail; agreement with the
// unsplit fp32 model per weight precision and encoding; a short federated run.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { ENCODINGS, type Encoding } from '../protocol/encoding.js';
import { Manifest } from '../protocol/manifest.js';
import { buildModels } from './build-models.js';
import { type LargeRunResult, runLarge } from './large/start.js';
import { type EncodingResult, evaluateSplit } from './split-eval.js';
import { startLocalWorker } from './wrangler-dev.js';

const LARGE_MODEL = 'vit-b16';
const int = (v: string) => Number.parseInt(v, 10);

const program = new Command('splitflare-start')
  .description('Split inference of a ViT on MNIST: device head in Node, tail on a local Worker (workerd).')
  .option('--json', 'print one JSON object instead of a table')
  .option(
    '--model <id>',
    `model to run: a built model id, or ${LARGE_MODEL} (the large-model path)`,
    'vit-mnist',
  )
  .option('--onnx <file>', 'the large-model path on your own torch.onnx.export file (input [batch, C, H, W])')
  .option('--samples <n>', 'MNIST test images (default 1000; 16 on the large path)', int)
  .option('--batch <n>', 'images per request (default 50; 8 on the large path)', int)
  .addOption(new Option('--encodings <list>', 'comma-separated encodings (default: all the model accepts)'))
  .option('--bits <list>', 'large path: frozen-weight precisions of the tail', '8,4')
  .option('--budget-mib <n>', 'large path: per-isolate memory budget the shards are planned for', int)
  .option('--no-train', 'large path: skip the short federated run')
  .parse();

const opts = program.opts<{
  json?: boolean;
  model: string;
  onnx?: string;
  samples?: number;
  batch?: number;
  encodings?: string;
  bits: string;
  budgetMib?: number;
  train: boolean;
}>();
const requested = opts.encodings?.split(',').map((e) => e.trim()) as Encoding[] | undefined;
for (const e of requested ?? []) if (!ENCODINGS.includes(e)) program.error(`unknown encoding ${e}`);

const say = (s: string) => {
  if (!opts.json) console.error(s);
};

function progressBar() {
  if (opts.json) return undefined;
  return new cliProgress.SingleBar(
    { format: ' {label} |{bar}| {value}/{total} images', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
}

function encodingRows(results: Array<Omit<EncodingResult, 'encoding'> & { encoding: string }>) {
  return results.map((r) => [
    r.encoding,
    `${(r.agreement * 100).toFixed(1)}%`,
    r.logits_cosine_min.toFixed(4),
    r.bytes_per_sample.toFixed(0),
    `${((r.bytes_per_sample / r.fp32_bytes_per_sample) * 100).toFixed(1)}%`,
    r.head_ms_p50.toFixed(2),
    r.roundtrip_ms_p50.toFixed(2),
  ]);
}

async function small(): Promise<void> {
  await buildModels({ log: say });
  const manifestPath = fileURLToPath(new URL(`../artifacts/${opts.model}/manifest.json`, import.meta.url));
  if (!existsSync(manifestPath)) program.error(`unknown model ${opts.model}`);
  const accepted = Manifest.parse(JSON.parse(readFileSync(manifestPath, 'utf8'))).wire.encodings;
  const encodings = requested ?? ENCODINGS.filter((e) => accepted.includes(e));
  for (const e of encodings) {
    if (!accepted.includes(e))
      program.error(`${opts.model} does not accept ${e}; it takes ${accepted.join(', ')}`);
  }
  const samples = opts.samples ?? 1000;
  const batch = opts.batch ?? 50;
  say('starting the Worker and its shard scripts (wrangler dev, workerd, 127.0.0.1)...');
  const worker = await startLocalWorker({ publish: [opts.model] });
  say(`Worker ready at ${worker.url}; ${opts.model} published to the local registry`);
  const bar = progressBar();
  try {
    let current: Encoding | undefined;
    const results = await evaluateSplit({
      baseUrl: worker.url,
      modelId: opts.model,
      encodings,
      samples,
      batchSize: batch,
      onProgress: (encoding, done, total) => {
        if (encoding !== current) {
          current = encoding;
          bar?.stop();
          bar?.start(total, 0, { label: encoding.padEnd(4) });
        }
        bar?.update(done, { label: encoding.padEnd(4) });
      },
    });
    bar?.stop();
    if (opts.json) {
      const byEncoding = Object.fromEntries(results.map(({ encoding, ...rest }) => [encoding, rest]));
      console.log(JSON.stringify({ model: opts.model, samples, batch, encodings: byEncoding }));
      return;
    }
    const table = new Table({
      head: [
        'encoding',
        'agreement',
        'accuracy',
        'logits cosine min',
        'bytes/sample',
        'vs fp32',
        'head ms p50',
        'net+tail ms p50',
      ],
    });
    for (const r of results) {
      const [encoding, agreement, ...rest] = encodingRows([r])[0];
      table.push([encoding, agreement, `${(r.accuracy * 100).toFixed(1)}%`, ...rest]);
    }
    console.log(
      `\nSplit inference, model ${opts.model}, ${samples} MNIST test images, batches of ${batch}.\n` +
        "agreement, logits' cosine: the split prediction against the unsplit model on the same image; head ms: device (onnxruntime-web\n" +
        'WASM in Node); net+tail ms: POST to the local Worker, tail on onnxruntime-web in workerd, answer decoded.',
    );
    console.log(table.toString());
  } finally {
    bar?.stop();
    await worker.stop();
  }
}

function printLarge(r: LargeRunResult, samples: number, batch: number): void {
  const p = r.parameters;
  console.log(
    `\nLarge model ${r.model}: ${(p.total / 1e6).toFixed(1)} M parameters, the device holds ${p.head.toLocaleString('en')} ` +
      `(${(p.device_share * 100).toFixed(2)}%) at the embed cut.\n` +
      `fp32 frozen weights: ${r.fp32_weights.fits ? r.fp32_weights.detail : `not built (${r.fp32_weights.detail})`}.\n` +
      `Split inference on ${samples} MNIST digits resized to the model's input, batches of ${batch}; agreement and the\n` +
      "logits' cosine similarity are with the unsplit fp32 model (onnxruntime-node) on the same image.",
  );
  for (const [bits, v] of Object.entries(r.variants)) {
    console.log(
      `\n${bits} frozen weights (${v.model}): ${v.shards} shards, planned peak ${v.planned_mib_max} MiB per isolate`,
    );
    const table = new Table({
      head: [
        'encoding',
        'agreement',
        'logits cosine min',
        'bytes/sample',
        'vs fp32',
        'head ms p50',
        'net+tail ms p50',
      ],
    });
    table.push(...encodingRows(Object.entries(v.encodings).map(([encoding, e]) => ({ encoding, ...e }))));
    console.log(table.toString());
  }
  if (r.training) {
    const t = r.training;
    console.log(
      `\nShort federated run on ${t.model} (${t.federation_id}): round ${t.round_status}, ` +
        `version ${t.published_version ?? '-'}, ${t.step_seconds_mean.toFixed(1)} s per step`,
    );
    for (const d of t.devices) {
      console.log(
        `  ${d.device}: ${d.steps} steps, ${d.samples} samples, mean loss ${d.mean_loss.toFixed(4)}, ${d.seconds.toFixed(0)} s`,
      );
    }
  }
}

async function large(): Promise<void> {
  const samples = opts.samples ?? 16;
  const batch = opts.batch ?? 8;
  const bits = opts.bits.split(',').map((b) => Number(b.trim()));
  if (bits.some((b) => b !== 4 && b !== 8)) program.error('--bits takes 8 and/or 4');
  const bar = progressBar();
  let label = '';
  const result = await runLarge({
    source: opts.onnx ? { kind: 'onnx', path: opts.onnx } : { kind: 'builder' },
    bits: bits as Array<4 | 8>,
    encodings: requested ?? ['fp32', 'fp16', 'int8', 'int4', 'int2'],
    samples,
    batch,
    budgetMiB: opts.budgetMib,
    train: opts.train,
    log: say,
    onProgress: (l, done, total) => {
      if (l !== label) {
        label = l;
        bar?.stop();
        bar?.start(total, 0, { label: l.padEnd(9) });
      }
      bar?.update(done, { label: l.padEnd(9) });
    },
  });
  bar?.stop();
  if (opts.json) console.log(JSON.stringify({ samples, batch, ...result }));
  else printLarge(result, samples, batch);
}

if (opts.onnx || opts.model === LARGE_MODEL) await large();
else await small();
