// `npm run privacy -- [--model m,…] [--encodings e,…] [--samples N] [--public N] [--max-epochs N] [--noise σ,…] [--head-adapters f] [--out dir] [--json]`:
// attacks the uplink of each model's deployment with what a curious server
// has (the public head, the activations devices send, public images of the
// domain) and reports how well it recovers held-out images, per activation
// encoding and activation-noise level: PSNR and SSIM of the analytic
// inversion (where the head is affine up to the cut) and of a learned decoder
// trained on the public images, and what the noise costs the base model's
// held-out accuracy.
// With --head-adapters it attacks a trained head (a version's adapters, e.g.
// a NoPeek fine-tune's) instead of the model's published one. Writes
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
import { FederationConfig } from '../protocol/federation.js';
import type { Manifest } from '../protocol/manifest.js';
import { MAX_TOKEN_NOISE } from '../protocol/token-noise.js';
import { leastSquaresInverter, probeAffine } from './privacy/analytic.js';
import { type DecoderShape, trainDecoder } from './privacy/decoder.js';
import { type DeviceCost, deviceCost } from './privacy/device-cost.js';
import { type GalleryRow, writeGallery } from './privacy/gallery.js';
import { type Leakage, leakage } from './privacy/metrics.js';
import { loadHead, loadTail, loadTrainedHead, uplink } from './privacy/uplink.js';
import { federationConfig, parseSimArgs } from './sim/config.js';

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
  .option(
    '--public <n>',
    "the attacker's public images for the learned decoder (0: no learned attack)",
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 40_000) throw new InvalidArgumentError('expected 0…40000');
      return n;
    },
    8000,
  )
  .option(
    '--max-epochs <n>',
    "the decoder's epoch budget (it stops earlier once validation stops improving)",
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
      return n;
    },
    40,
  )
  .option(
    '--noise <list>',
    'per-token activation noise σ values to measure (comma-separated; 0: none)',
    (v) => {
      const xs = v.split(',').map(Number);
      if (xs.some((x) => !(x >= 0 && x <= MAX_TOKEN_NOISE)))
        throw new InvalidArgumentError(`expected values in [0, ${MAX_TOKEN_NOISE}]`);
      return xs;
    },
    [0],
  )
  .option(
    '--head-adapters <file>',
    'attack a trained head: a version’s adapters (safetensors, e.g. a simulator run’s adapters.safetensors); one model only',
  )
  .option('--out <dir>', 'where privacy.json and the galleries go', 'results/privacy')
  .option('--json', 'print the record as one JSON object on stdout', false)
  .parse()
  .opts<{
    model: string[];
    encodings: Encoding[];
    samples: number;
    public: number;
    maxEpochs: number;
    noise: number[];
    headAdapters?: string;
    out: string;
    json: boolean;
  }>();

if (opts.headAdapters && opts.model.length !== 1) {
  process.stderr.write('--head-adapters attacks one model: name it with --model\n');
  process.exit(2);
}

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
function heldOut(dataset: Dataset, n: number) {
  const idx = trainTestSplit(dataset, { seed: 0 }).test.subarray(0, n);
  return { ...images(dataset, idx), labels: Int32Array.from(idx, (i) => dataset.labels[i]) };
}

/** The attacker's public images: the first `n` of the split's training part, never the held-out ones. */
function publicImages(dataset: Dataset, n: number): { normalized: Float32Array; pixels: Float32Array } {
  return images(dataset, trainTestSplit(dataset, { seed: 0 }).train.subarray(0, n));
}

function images(dataset: Dataset, test: Int32Array): { normalized: Float32Array; pixels: Float32Array } {
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

interface Setting {
  encoding: Encoding;
  /** Per-token activation noise σ (protocol/token-noise.ts). */
  noise: number;
  analytic: Leakage | null;
  learned: (Leakage & { epochs: number }) | null;
  /** Held-out accuracy of the base model on what the server receives. */
  accuracy: number;
}

interface ModelRecord {
  model: string;
  cut: string;
  /** Whether the head is affine up to the cut, so the analytic attack applies. */
  head_affine: boolean;
  /** What training at this cut costs the device (deployments built for training). */
  device: DeviceCost | null;
  settings: Setting[];
}

/** The attacker knows pixels lie in [0, 1]. */
const clip01 = (x: Float32Array) => x.map((v) => Math.min(1, Math.max(0, v)));

/** The decoder for a ViT cut: tokens after the cls token laid on a square grid of patches. */
function decoderShape(manifest: Manifest, dataset: Dataset): DecoderShape {
  const [, tokens, width] = manifest.cut.tensor.shape as number[];
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (grid * grid !== tokens - 1 || dataset.height % grid !== 0) {
    throw new Error(`${manifest.modelId}: the cut's ${tokens} tokens are not a cls token and a square grid`);
  }
  return {
    tokens,
    prefixTokens: 1,
    width,
    channels: dataset.channels,
    patch: dataset.height / grid,
    grid,
    hidden: 256,
    convChannels: 8,
  };
}

const records: ModelRecord[] = [];
await mkdir(opts.out, { recursive: true });
for (const model of opts.model) {
  const dir = join('artifacts', model);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const dataset = await loadDataset(datasetOf(manifest));
  const { normalized, pixels, labels } = heldOut(dataset, opts.samples);
  const n = labels.length;
  const head = opts.headAdapters
    ? await loadTrainedHead(dir, manifest, new Uint8Array(await readFile(opts.headAdapters)))
    : await loadHead(dir, manifest);
  const tail = await loadTail(dir, manifest);
  const inputSize = dataset.channels * dataset.height * dataset.width;
  say(`${model}: probing the head (cut ${manifest.cut.id})`);
  const affine = await probeAffine(head.run, inputSize);
  const inverter = affine ? leastSquaresInverter(affine) : null;
  const attackerSet = publicImages(dataset, opts.public);
  const device = manifest.training
    ? await deviceCost(dir, { ...manifest, training: manifest.training })
    : null;
  if (device) say(`${model}: a device step of the head takes ${device.step_ms} ms at batch ${device.batch}`);
  const record: ModelRecord = {
    model,
    cut: manifest.cut.id,
    head_affine: affine !== null,
    device,
    settings: [],
  };
  const gallery: GalleryRow[] = [
    { label: 'original', images: pixels.subarray(0, GALLERY_COLUMNS * inputSize) },
  ];
  const toPixels = (x: Float32Array) =>
    clip01(denormalize(x, dataset.channels, inputSize, dataset.normalization));
  for (const encoding of opts.encodings.filter((e) => manifest.wire.encodings.includes(e))) {
    for (const noise of opts.noise) {
      const label = noise > 0 ? `${encoding}, noise ${noise}` : encoding;
      const received = await uplink(head, manifest, normalized, n, encoding, noise, 7);
      const accuracy = await tail.accuracy(received, n, labels);
      let analytic: Leakage | null = null;
      if (inverter) {
        const recovered = toPixels(inverter.invert(received, n));
        analytic = leakage(pixels, recovered, dataset.width, dataset.height);
        gallery.push({
          label: `analytic ${label}`,
          images: recovered.subarray(0, GALLERY_COLUMNS * inputSize),
        });
      }
      let learned: Setting['learned'] = null;
      if (opts.public > 0) {
        // The attacker knows the deployment's encoding and noise, and trains on what it would receive.
        const training = await uplink(
          head,
          manifest,
          attackerSet.normalized,
          opts.public,
          encoding,
          noise,
          8,
        );
        const decoder = await trainDecoder(decoderShape(manifest, dataset), {
          activations: training,
          pixels: attackerSet.normalized,
          n: opts.public,
          validation: 0.1,
          maxEpochs: opts.maxEpochs,
          patience: 5,
          batch: 64,
          lr: 3e-3,
          seed: 1,
          onEpoch: ({ epoch, validation }) =>
            say(`  ${label} decoder epoch ${epoch}: validation MSE ${validation.toFixed(5)}`),
        });
        const recovered = toPixels(await decoder.decode(received, n));
        await decoder.release();
        learned = { ...leakage(pixels, recovered, dataset.width, dataset.height), epochs: decoder.epochs };
        gallery.push({
          label: `learned ${label}`,
          images: recovered.subarray(0, GALLERY_COLUMNS * inputSize),
        });
      }
      record.settings.push({ encoding, noise, analytic, learned, accuracy });
      const show = (l: Leakage | null) =>
        l ? `${l.psnr_db.toFixed(1)} dB, SSIM ${l.ssim.toFixed(3)}` : 'n/a';
      say(
        `${model} ${label}: accuracy ${(accuracy * 100).toFixed(1)}%; analytic ${show(analytic)}; learned ${show(learned)}`,
      );
    }
  }
  await Promise.all([head.release(), tail.release()]);
  await writeGallery(join(opts.out, `${model}.png`), gallery, dataset.width, dataset.height, GALLERY_COLUMNS);
  records.push(record);
}

// The deployment a user gets without choosing: the federation `npm start` and
// the simulator create (its model, uplink encoding and activation noise).
const defaults = FederationConfig.parse(federationConfig(parseSimArgs([])));
const defaultRecord = records.find((r) => r.model === defaults.modelId);
const defaultSetting = defaultRecord?.settings.find(
  (x) => x.encoding === defaults.uplink && x.noise === defaults.activationNoise,
);
// The cost is measured against the same model's undefended fp32 uplink, on the frozen base model.
const reference = defaultRecord?.settings.find((x) => x.encoding === 'fp32' && x.noise === 0);
const TARGET = { learnedSsim: 0.3, analyticPsnrDb: 12, costPoints: 2 };
const defaultTraining =
  defaultRecord && defaultSetting
    ? (() => {
        const cost = reference ? (reference.accuracy - defaultSetting.accuracy) * 100 : null;
        const analyticPsnr = defaultSetting.analytic?.psnr_db ?? null;
        const learnedSsim = defaultSetting.learned?.ssim ?? null;
        return {
          model: defaultRecord.model,
          cut: defaultRecord.cut,
          encoding: defaultSetting.encoding,
          noise: defaultSetting.noise,
          analytic: { psnr_db: analyticPsnr, ssim: defaultSetting.analytic?.ssim ?? null },
          learned: { psnr_db: defaultSetting.learned?.psnr_db ?? null, ssim: learnedSsim },
          accuracy: defaultSetting.accuracy,
          accuracy_cost_points: cost,
          target: TARGET,
          meets_target:
            (analyticPsnr === null || analyticPsnr <= TARGET.analyticPsnrDb) &&
            learnedSsim !== null &&
            learnedSsim <= TARGET.learnedSsim &&
            cost !== null &&
            cost <= TARGET.costPoints,
        };
      })()
    : null;

const embedRecord = records.find((r) => r.cut === 'embed');
const embedInt8 = embedRecord?.settings.find((x) => x.encoding === 'int8' && x.noise === 0);
const result = {
  created: new Date().toISOString(),
  command: `npm run privacy -- ${process.argv.slice(2).join(' ')}`.trim(),
  samples: opts.samples,
  public_images: opts.public,
  // A trained head's record: its accuracy column is still the base model's tail on what it receives.
  head_adapters: opts.headAdapters ?? null,
  models: records,
  default_training: defaultTraining,
  embed_undefended:
    embedRecord && embedInt8
      ? {
          model: embedRecord.model,
          encoding: 'int8',
          analytic: { psnr_db: embedInt8.analytic?.psnr_db ?? null },
          learned: { psnr_db: embedInt8.learned?.psnr_db ?? null },
        }
      : null,
};
await writeFile(join(opts.out, 'privacy.json'), `${JSON.stringify(result, null, 2)}\n`);
if (opts.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  console.log(
    '| model | cut | encoding | noise σ | accuracy | analytic PSNR | analytic SSIM | learned PSNR | learned SSIM |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const cells = (l: Leakage | null) =>
    l ? `${l.psnr_db.toFixed(1)} dB | ${l.ssim.toFixed(3)}` : 'n/a | n/a';
  for (const r of records) {
    for (const x of r.settings) {
      console.log(
        `| ${r.model} | ${r.cut} | ${x.encoding} | ${x.noise} | ${(x.accuracy * 100).toFixed(1)}% | ${cells(x.analytic)} | ${cells(x.learned)} |`,
      );
    }
  }
}
