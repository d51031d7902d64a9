// `npm start`: build what is needed, start the Worker on workerd (wrangler dev
// on loopback), run the device SDK in Node on real MNIST images at every
// encoding, print what split inference costs and keeps, and stop the Worker.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { ENCODINGS, type Encoding } from '../protocol/encoding.js';
import { Manifest } from '../protocol/manifest.js';
import { buildModels } from './build-models.js';
import { evaluateSplit } from './split-eval.js';
import { startLocalWorker } from './wrangler-dev.js';

const program = new Command('splitflare-start')
  .description('Split inference of a ViT on MNIST: device head in Node, tail on a local Worker (workerd).')
  .option('--json', 'print one JSON object instead of a table')
  .option('--model <id>', 'model to run', 'vit-mnist')
  .option('--samples <n>', 'MNIST test images', (v) => Number.parseInt(v, 10), 1000)
  .option('--batch <n>', 'images per request', (v) => Number.parseInt(v, 10), 50)
  .addOption(new Option('--encodings <list>', 'comma-separated encodings (default: all the model accepts)'))
  .parse();

const opts = program.opts<{
  json?: boolean;
  model: string;
  samples: number;
  batch: number;
  encodings?: string;
}>();
const requested = opts.encodings?.split(',').map((e) => e.trim()) as Encoding[] | undefined;
for (const e of requested ?? []) if (!ENCODINGS.includes(e)) program.error(`unknown encoding ${e}`);

const say = (s: string) => {
  if (!opts.json) console.error(s);
};

await buildModels({ log: say });
const manifestPath = fileURLToPath(new URL(`../artifacts/${opts.model}/manifest.json`, import.meta.url));
if (!existsSync(manifestPath)) program.error(`unknown model ${opts.model}`);
const accepted = Manifest.parse(JSON.parse(readFileSync(manifestPath, 'utf8'))).wire.encodings;
const encodings = requested ?? ENCODINGS.filter((e) => accepted.includes(e));
for (const e of encodings) {
  if (!accepted.includes(e))
    program.error(`${opts.model} does not accept ${e}; it takes ${accepted.join(', ')}`);
}
say('starting the Worker (wrangler dev, workerd, 127.0.0.1)...');
const worker = await startLocalWorker();
say(`Worker ready at ${worker.url}`);
const bar = opts.json
  ? undefined
  : new cliProgress.SingleBar(
      { format: ' {encoding} |{bar}| {value}/{total} images', hideCursor: true, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
try {
  let current: Encoding | undefined;
  const results = await evaluateSplit({
    baseUrl: worker.url,
    modelId: opts.model,
    encodings,
    samples: opts.samples,
    batchSize: opts.batch,
    onProgress: (encoding, done, total) => {
      if (encoding !== current) {
        current = encoding;
        bar?.stop();
        bar?.start(total, 0, { encoding: encoding.padEnd(4) });
      }
      bar?.update(done, { encoding: encoding.padEnd(4) });
    },
  });
  bar?.stop();
  if (opts.json) {
    const byEncoding = Object.fromEntries(results.map(({ encoding, ...rest }) => [encoding, rest]));
    console.log(
      JSON.stringify({ model: opts.model, samples: opts.samples, batch: opts.batch, encodings: byEncoding }),
    );
  } else {
    const table = new Table({
      head: [
        'encoding',
        'agreement',
        'accuracy',
        'bytes/sample',
        'vs fp32',
        'head ms p50',
        'net+tail ms p50',
      ],
    });
    for (const r of results) {
      table.push([
        r.encoding,
        `${(r.agreement * 100).toFixed(1)}%`,
        `${(r.accuracy * 100).toFixed(1)}%`,
        r.bytes_per_sample.toFixed(0),
        `${((r.bytes_per_sample / r.fp32_bytes_per_sample) * 100).toFixed(1)}%`,
        r.head_ms_p50.toFixed(2),
        r.roundtrip_ms_p50.toFixed(2),
      ]);
    }
    console.log(
      `\nSplit inference, model ${opts.model}, ${opts.samples} MNIST test images, batches of ${opts.batch}.\n` +
        'agreement: split prediction equals the unsplit model on the same image; head ms: device (onnxruntime-web\n' +
        'WASM in Node); net+tail ms: POST to the local Worker, tail on onnxruntime-web in workerd, answer decoded.',
    );
    console.log(table.toString());
  }
} finally {
  bar?.stop();
  await worker.stop();
}
