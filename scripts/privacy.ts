// `npm run privacy -- [--model m,…] [--encodings e,…] [--samples N] [--out dir] [--json]`:
// attacks the uplink of each model's deployment with what a curious server
// has (the public head and the activations devices send) and reports how
// well it recovers held-out images, per activation encoding: PSNR and SSIM
// of the analytic inversion where the head is affine up to the cut. Writes
// <out>/privacy.json and a PNG per model of reconstructions under their
// originals. Progress goes to stderr.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import {
  DATASET_NAMES,
  type Dataset,
  type DatasetName,
  denormalize,
  loadDataset,
  NORMALIZATION,
  trainTestSplit,
} from '../datasets/index.js';
import { ENCODINGS, type Encoding } from '../protocol/encoding.js';
import type { Manifest } from '../protocol/manifest.js';
import { leastSquaresInverter, probeAffine } from './privacy/analytic.js';
import { type GalleryRow, writeGallery } from './privacy/gallery.js';
import { type Leakage, leakage } from './privacy/metrics.js';
import { loadHead, uplink } from './privacy/uplink.js';

const list =
  <T extends string>(allowed: readonly T[]) =>
  (v: string): T[] => {
    const items = v.split(',').map((s) => s.trim());
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (bad.length > 0 || items.length === 0)
      throw new InvalidArgumentError(`expected some of ${allowed.join(', ')}`);
    return items as T[];
  };

const opts = new Command('privacy')
  .description("attacks each model's uplink as a curious server would and measures what it recovers")
  .option('--model <ids>', 'models under artifacts/ (comma-separated)', (v) => v.split(','), [
    'vit-fashion',
    'vit-mnist-deep',
  ])
  .option('--encodings <list>', 'activation encodings', list(ENCODINGS), [
    'fp32',
    'int8',
    'int4',
    'int2',
  ] as Encoding[])
  .option(
    '--samples <n>',
    'held-out images attacked',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected 1…10000');
      return n;
    },
    500,
  )
  .option('--out <dir>', 'where privacy.json and the galleries go', 'results/privacy')
  .option('--json', 'print the record as one JSON object on stdout', false)
  .parse()
  .opts<{ model: string[]; encodings: Encoding[]; samples: number; out: string; json: boolean }>();

const say = (s: string) => process.stderr.write(`${s}\n`);
const GALLERY_COLUMNS = 8;

/** The dataset whose normalization the manifest's preprocessing uses. */
function datasetOf(manifest: Manifest): DatasetName {
  if (!manifest.preprocess) throw new Error(`${manifest.modelId}: the manifest has no preprocessing`);
  const { mean, std } = manifest.preprocess;
  const name = DATASET_NAMES.find(
    (d) => NORMALIZATION[d].mean[0] === mean[0] && NORMALIZATION[d].std[0] === std[0],
  );
  if (!name) throw new Error(`${manifest.modelId}: no dataset normalizes as its preprocessing does`);
  return name;
}

/** The first `n` held-out images of the seeded split (the same split the federation's evaluation uses). */
function heldOut(dataset: Dataset, n: number): { normalized: Float32Array; pixels: Float32Array } {
  const test = trainTestSplit(dataset, { seed: 0 }).test.subarray(0, n);
  const size = dataset.channels * dataset.height * dataset.width;
  const normalized = new Float32Array(test.length * size);
  test.forEach((idx, k) => {
    normalized.set(dataset.images.subarray(idx * size, (idx + 1) * size), k * size);
  });
  return {
    normalized,
    pixels: denormalize(normalized, dataset.channels, dataset.height * dataset.width, dataset.normalization),
  };
}

interface ModelRecord {
  model: string;
  cut: string;
  /** Whether the head is affine up to the cut, so the analytic attack applies. */
  head_affine: boolean;
  encodings: Record<string, { analytic: Leakage | null }>;
}

const records: ModelRecord[] = [];
await mkdir(opts.out, { recursive: true });
for (const model of opts.model) {
  const dir = join('artifacts', model);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const dataset = await loadDataset(datasetOf(manifest));
  const { normalized, pixels } = heldOut(dataset, opts.samples);
  const n = pixels.length / (dataset.height * dataset.width);
  const head = await loadHead(dir, manifest);
  const inputSize = dataset.channels * dataset.height * dataset.width;
  say(`${model}: probing the head (cut ${manifest.cut.id})`);
  const affine = await probeAffine(head.run, inputSize);
  const inverter = affine ? leastSquaresInverter(affine) : null;
  const record: ModelRecord = { model, cut: manifest.cut.id, head_affine: affine !== null, encodings: {} };
  const gallery: GalleryRow[] = [
    { label: 'original', images: pixels.subarray(0, GALLERY_COLUMNS * inputSize) },
  ];
  for (const encoding of opts.encodings) {
    if (!manifest.wire.encodings.includes(encoding)) continue;
    const received = await uplink(head, manifest, normalized, n, encoding);
    let analytic: Leakage | null = null;
    if (inverter) {
      // The attacker knows pixels lie in [0, 1].
      const recovered = denormalize(
        inverter.invert(received, n),
        dataset.channels,
        inputSize,
        dataset.normalization,
      ).map((v) => Math.min(1, Math.max(0, v)));
      analytic = leakage(pixels, recovered, dataset.width, dataset.height);
      gallery.push({
        label: `analytic ${encoding}`,
        images: recovered.subarray(0, GALLERY_COLUMNS * inputSize),
      });
    }
    record.encodings[encoding] = { analytic };
    say(
      `${model} ${encoding}: analytic ${analytic ? `${analytic.psnr_db.toFixed(1)} dB, SSIM ${analytic.ssim.toFixed(3)}` : 'n/a (head not affine)'}`,
    );
  }
  await head.release();
  if (gallery.length > 1) {
    await writeGallery(
      join(opts.out, `${model}-analytic.png`),
      gallery,
      dataset.width,
      dataset.height,
      GALLERY_COLUMNS,
    );
  }
  records.push(record);
}

const embed = records.find((r) => r.cut === 'embed' && r.encodings.int8);
const result = {
  created: new Date().toISOString(),
  command: `npm run privacy -- ${process.argv.slice(2).join(' ')}`.trim(),
  samples: opts.samples,
  models: records,
  embed_undefended: embed
    ? {
        model: embed.model,
        encoding: 'int8',
        analytic: { psnr_db: embed.encodings.int8.analytic?.psnr_db ?? null },
      }
    : null,
};
await writeFile(join(opts.out, 'privacy.json'), `${JSON.stringify(result, null, 2)}\n`);
if (opts.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  console.log('| model | cut | encoding | analytic PSNR | analytic SSIM |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of records) {
    for (const [enc, v] of Object.entries(r.encodings)) {
      const a = v.analytic;
      console.log(
        `| ${r.model} | ${r.cut} | ${enc} | ${a ? `${a.psnr_db.toFixed(1)} dB` : 'n/a'} | ${a ? a.ssim.toFixed(3) : 'n/a'} |`,
      );
    }
  }
}
