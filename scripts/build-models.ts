// Builds the reference models, from source, reproducibly (seeded):
// artifacts/<model-id>/ holds the split (head, tail, full), the tail's
// pipeline shards, the training graphs where the deployment trains, the
// manifest and samples.json. Models are not bundled into the Worker:
// `npm start`, `npm run dev` and `splitflare-models publish` put them into the
// R2 registry. artifacts/seed.ts lets the workerd tests seed their registry
// with the same files. Skips the work when nothing it depends on has changed.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { batchOf, type DatasetName, loadDataset, NORMALIZATION, trainTestSplit } from '../datasets/index.js';
import { frozenWeights } from '../models/quantize/index.js';
import type { Cut } from '../models/split/index.js';
import { type PipelineChoice, writeSplit } from '../models/split/index.js';
import { type AdapterRecipe, REFERENCE_RECIPE, writeTrainingArtifacts } from '../models/training/index.js';
import { describeVit, REFERENCE_VIT } from '../models/vit/index.js';
import {
  CLASSIFIER_SEED,
  loadPretrainedVit,
  PRETRAINED_WEIGHTS,
  resetClassifier,
} from '../models/weights/pretrained.js';
import { edgeArtifacts, type Manifest, tailParameters } from '../protocol/manifest.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = join(ROOT, 'artifacts');
const STAMP = join(ARTIFACTS, '.build-stamp');

interface Deployment {
  modelId: string;
  cut: Cut;
  /** The task it serves: the pretrained MNIST model, or a new task fine-tuned from it. */
  task: DatasetName;
  wire?: Partial<Manifest['wire']>;
  /** Builds training artifacts too (split fine-tuning). */
  training?: AdapterRecipe;
  /** How the tail is sharded (default: planned against the 96 MiB budget, which is one shard here). */
  pipeline?: PipelineChoice;
}

/**
 * Two cuts of the reference ViT. `vit-mnist` keeps only the patch embedding on
 * the device (as in SFLAM); `vit-mnist-deep` moves two encoder blocks to the
 * device and accepts only quantized uploads, for links where bytes are dear.
 */
export const DEPLOYMENTS: Deployment[] = [
  { modelId: 'vit-mnist', cut: { kind: 'embed' }, task: 'mnist' },
  {
    modelId: 'vit-mnist-deep',
    cut: { kind: 'block', index: 1 },
    task: 'mnist',
    wire: { encodings: ['int8', 'int4', 'int2'] },
  },
  // The federated fine-tuning target: the pretrained model with a fresh
  // classifier for Fashion-MNIST, adapters per REFERENCE_RECIPE.
  { modelId: 'vit-fashion', cut: { kind: 'embed' }, task: 'fashion-mnist', training: REFERENCE_RECIPE },
  // The same fine-tune with two encoder blocks on the device: the deeper cut
  // the privacy experiments train at. Its trainables carry the same names as
  // vit-fashion's; only their owner (head or tail) differs.
  {
    modelId: 'vit-fashion-deep',
    cut: { kind: 'block', index: 1 },
    task: 'fashion-mnist',
    training: REFERENCE_RECIPE,
  },
  // The same model with its tail forced into 2 and 4 shards and run in
  // micro-batches of 3: the tests check that every sharding computes what
  // the single shard does.
  {
    modelId: 'vit-fashion-2s',
    cut: { kind: 'embed' },
    task: 'fashion-mnist',
    training: REFERENCE_RECIPE,
    pipeline: { shards: 2, microBatch: 3 },
  },
  {
    modelId: 'vit-fashion-4s',
    cut: { kind: 'embed' },
    task: 'fashion-mnist',
    training: REFERENCE_RECIPE,
    pipeline: { shards: 4, microBatch: 3 },
  },
  // vit-fashion with its frozen weights (every adapted block weight) stored
  // int4 block-wise: the fine-tune EXPERIMENTS.md compares with fp32. The
  // device's only weights (the patch embedding) are trained in full, so the
  // head has nothing frozen to quantize.
  {
    modelId: 'vit-fashion-int4w',
    cut: { kind: 'embed' },
    task: 'fashion-mnist',
    training: REFERENCE_RECIPE,
    pipeline: { weights: frozenWeights(4) },
  },
];

const SAMPLE_COUNT = 8;

/** A hash of the code and weights every build depends on, to skip builds that would change nothing. */
export function fingerprint(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) hash.update(relative(ROOT, p)).update(readFileSync(p));
    }
  };
  for (const dir of ['models', 'protocol', 'datasets']) walk(join(ROOT, dir));
  hash.update(readFileSync(PRETRAINED_WEIGHTS));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest('hex');
}

async function writeSamples(dir: string, manifest: Manifest, task: DatasetName): Promise<void> {
  const data = await loadDataset(task);
  const { test } = trainTestSplit(data, { seed: 0 });
  const batch = batchOf(data, test.subarray(0, SAMPLE_COUNT));
  const feeds = { [manifest.input.name]: new ort.Tensor('float32', batch.pixels, batch.shape) };
  const run = async (file: string, output: string) => {
    const session = await ort.InferenceSession.create(join(dir, file));
    const out = (await session.run(feeds))[output];
    await session.release();
    return out;
  };
  const activation = await run('head.onnx', manifest.cut.tensor.name);
  const logits = await run('full.onnx', manifest.output.name);
  const samples = {
    note: 'First test-split images with the head activation and the unsplit logits (onnxruntime-node).',
    inputShape: batch.shape,
    pixels: Array.from(batch.pixels),
    labels: Array.from(batch.labels),
    activationShape: activation.dims,
    activation: Array.from(activation.data as Float32Array),
    logitsShape: logits.dims,
    logits: Array.from(logits.data as Float32Array),
  };
  await writeFile(join(dir, 'samples.json'), JSON.stringify(samples));
}

/**
 * A module for the workerd tests: every deployment's manifest and the files
 * the registry must hold for it, imported as bytes (vitest's Data module
 * rule), so a test can seed its R2 bucket the way `publish` does.
 */
function seedModule(deployments: Array<{ id: string; manifest: Manifest }>): string {
  const imports: string[] = [];
  const entries: string[] = [];
  deployments.forEach(({ id, manifest }, i) => {
    imports.push(`import manifest${i} from './${id}/manifest.json';`);
    const t = manifest.training?.artifacts;
    // The unsharded tail graphs too: the tests compare the pipeline with them.
    const extra = [t?.tailTrain, t?.tailInfer].filter((a) => a !== undefined);
    const unique = [...new Map([...edgeArtifacts(manifest), ...extra].map((a) => [a.sha256, a])).values()];
    const files = unique.map((a, j) => {
      imports.push(`import file${i}_${j} from './${id}/${a.file}';`);
      return `'${a.sha256}': file${i}_${j}`;
    });
    entries.push(`  { manifest: manifest${i}, files: { ${files.join(', ')} } },`);
  });
  return [
    '// Generated by scripts/build-models.ts: do not edit.',
    ...imports,
    '',
    'export const SEED: Array<{ manifest: unknown; files: Record<string, ArrayBuffer> }> = [',
    ...entries,
    '];',
    '',
  ].join('\n');
}

export async function buildModels(
  options: { force?: boolean; log?: (s: string) => void } = {},
): Promise<void> {
  const log = options.log ?? console.log;
  const stamp = fingerprint();
  const upToDate =
    !options.force &&
    existsSync(STAMP) &&
    (await readFile(STAMP, 'utf8')) === stamp &&
    existsSync(join(ARTIFACTS, 'seed.ts')) &&
    DEPLOYMENTS.every((d) => existsSync(join(ARTIFACTS, d.modelId, 'samples.json')));
  if (upToDate) {
    log('models: up to date');
    return;
  }
  const built: Array<{ id: string; manifest: Manifest }> = [];
  for (const d of DEPLOYMENTS) {
    const dir = join(ARTIFACTS, d.modelId);
    const model = await loadPretrainedVit();
    const newTask = d.task !== 'mnist';
    if (newTask) resetClassifier(model, CLASSIFIER_SEED);
    const norm = NORMALIZATION[d.task];
    const options = {
      model,
      cut: d.cut,
      outDir: dir,
      modelId: d.modelId,
      source:
        `${describeVit(REFERENCE_VIT)}, weights models/weights/vit-mnist.safetensors` +
        (newTask ? `, classifier re-initialised (seed ${CLASSIFIER_SEED}) for ${d.task}` : ''),
      labels: [...(await loadDataset(d.task)).classes],
      preprocess: {
        layout: 'NCHW' as const,
        channels: 1,
        height: 28,
        width: 28,
        mean: [...norm.mean],
        std: [...norm.std],
      },
      wire: d.wire,
      pipeline: d.pipeline,
    };
    const manifest = d.training
      ? await writeTrainingArtifacts({ ...options, recipe: d.training })
      : await writeSplit(options);
    await writeSamples(dir, manifest, d.task);
    built.push({ id: d.modelId, manifest });
    log(
      `models: ${d.modelId} cut=${manifest.cut.id} head=${manifest.artifacts.head.parameters} params, ` +
        `tail=${tailParameters(manifest)} params in ${manifest.pipeline.shards.length} shard(s)`,
    );
  }
  await writeFile(join(ARTIFACTS, 'seed.ts'), seedModule(built));
  await writeFile(STAMP, stamp);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildModels({ force: process.argv.includes('--force') });
}
