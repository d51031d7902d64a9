// Builds a large ViT for the edge: cut at `embed` (the device keeps the patch
// embedding, as in SFLAM), the tail's frozen weights quantized block-wise
// (int8, int4), sharded against the per-isolate budget, with LoRA training
// graphs for every shard. The model is the project's ViT-B/16 with seeded
// weights, or a user's torch.onnx.export file. fp32 weights are planned too,
// and reported as not fitting when a single block is over the budget.
//
// artifacts/<base>/full.onnx        the unsplit fp32 model (the reference)
// artifacts/<base>-int<bits>/       one model per weight precision
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NORMALIZATION } from '../../datasets/index.js';
import { modelIdFromPath } from '../../models/cli/options.js';
import { graphOf, loadModel, saveModel } from '../../models/onnx/model.js';
import type { ModelProto } from '../../models/onnx/proto.js';
import { blockCosts, DEFAULT_BUDGET_MIB, planShards } from '../../models/pipeline/index.js';
import { frozenWeights } from '../../models/quantize/index.js';
import { splitModel } from '../../models/split/splitter.js';
import { STRUCTURAL_RECIPE, writeTrainingArtifacts } from '../../models/training/index.js';
import { buildVit, describeVit, VIT_B16 } from '../../models/vit/index.js';
import type { Manifest } from '../../protocol/manifest.js';
import { fingerprint } from '../build-models.js';

const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
const MiB = 2 ** 20;
/**
 * When a single block does not fit the budget (int8 weights at one block per
 * shard plan to about 100 MiB), the variant is planned against this instead:
 * the 128 MB limit less room for the isolate's own code and JavaScript.
 */
const FALLBACK_BUDGET_MIB = 120;

export type LargeSource = { kind: 'builder' } | { kind: 'onnx'; path: string };

export interface LargeBuildOptions {
  source: LargeSource;
  bits?: ReadonlyArray<4 | 8>;
  budgetMiB?: number;
  /** Samples per onnxruntime run inside a shard. */
  microBatch?: number;
  /** Largest batch a request or a training step may carry. */
  maxBatch?: number;
  log?: (line: string) => void;
}

export interface LargeVariant {
  bits: 4 | 8;
  modelId: string;
  dir: string;
  manifest: Manifest;
}

export interface LargeBuild {
  base: string;
  /** The unsplit fp32 model. */
  reference: string;
  variants: LargeVariant[];
  /** Why fp32 weights are not built: the planner's refusal. */
  fp32: { fits: boolean; detail: string };
  parameters: { total: number; head: number };
}

export const baseIdOf = (source: LargeSource): string =>
  source.kind === 'builder' ? 'vit-b16' : modelIdFromPath(source.path);

function parameterTotal(model: ModelProto): number {
  let n = 0;
  for (const t of graphOf(model).initializer ?? [])
    n += (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
  return n;
}

function stampOf(o: Required<Omit<LargeBuildOptions, 'log'>>): string {
  const hash = createHash('sha256').update(fingerprint()).update(JSON.stringify(o));
  if (o.source.kind === 'onnx') {
    const st = statSync(o.source.path);
    hash.update(`${st.size}:${st.mtimeMs}`);
  }
  return hash.digest('hex');
}

/** Builds (or finds up to date) the large model's variants. */
export async function buildLargeModel(options: LargeBuildOptions): Promise<LargeBuild> {
  const o = {
    source: options.source,
    bits: options.bits ?? [8, 4],
    budgetMiB: options.budgetMiB ?? DEFAULT_BUDGET_MIB,
    microBatch: options.microBatch ?? 1,
    maxBatch: options.maxBatch ?? 8,
  };
  const log = options.log ?? (() => {});
  const base = baseIdOf(o.source);
  const baseDir = join(ARTIFACTS, base);
  const stampFile = join(baseDir, '.build-stamp');
  const stamp = stampOf(o);
  const reportFile = join(baseDir, 'build.json');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(reportFile)) {
    log(`${base}: up to date`);
    return JSON.parse(await readFile(reportFile, 'utf8')) as LargeBuild;
  }
  await mkdir(baseDir, { recursive: true });
  const started = Date.now();
  let model: ModelProto;
  let reference: string;
  if (o.source.kind === 'builder') {
    log(`${base}: building ${describeVit(VIT_B16)} with seeded weights`);
    model = buildVit(VIT_B16);
    reference = join(baseDir, 'full.onnx');
    await saveModel(reference, model);
  } else {
    model = await loadModel(o.source.path);
    reference = o.source.path;
  }
  const total = parameterTotal(model);
  const head = parameterTotal((await splitModel(model, { kind: 'embed' })).head);

  // fp32 weights: does a single block fit an isolate?
  let fp32 = { fits: true, detail: 'fits' };
  try {
    const split = await splitModel(model, { kind: 'embed' });
    const plan = planShards(blockCosts(split.tail, undefined), {
      budgetMiB: o.budgetMiB,
      microBatch: o.microBatch,
      training: true,
    });
    fp32.detail = `${plan.groups.length} shards`;
  } catch (err) {
    fp32 = { fits: false, detail: (err as Error).message };
  }

  const grey = NORMALIZATION.mnist;
  const variants: LargeVariant[] = [];
  for (const bits of o.bits) {
    const modelId = `${base}-int${bits}`;
    const dir = join(ARTIFACTS, modelId);
    log(`${modelId}: splitting at embed, int${bits} weights, sharding against ${o.budgetMiB} MiB`);
    const write = (budgetMiB: number) =>
      writeTrainingArtifacts({
        model,
        cut: { kind: 'embed' },
        outDir: dir,
        modelId,
        source:
          o.source.kind === 'builder'
            ? `${describeVit(VIT_B16)}, seeded weights, frozen weights int${bits}`
            : `${basename(o.source.path)}, frozen weights int${bits}`,
        full: false,
        tail: false,
        unshardedTail: false,
        recipe: STRUCTURAL_RECIPE,
        wire: { maxBatch: o.maxBatch },
        ...(o.source.kind === 'builder'
          ? {
              labels: Array.from({ length: 10 }, (_, i) => String(i)),
              // MNIST digits resized to 224×224 and repeated into three channels (datasets/resize.ts).
              preprocess: {
                layout: 'NCHW' as const,
                channels: 3,
                height: 224,
                width: 224,
                mean: [grey.mean[0], grey.mean[0], grey.mean[0]],
                std: [grey.std[0], grey.std[0], grey.std[0]],
              },
            }
          : {}),
        pipeline: { budgetMiB, microBatch: o.microBatch, weights: frozenWeights(bits) },
      });
    let manifest: Manifest;
    try {
      manifest = await write(o.budgetMiB);
    } catch (err) {
      if (!/alone needs/.test((err as Error).message) || o.budgetMiB >= FALLBACK_BUDGET_MIB) throw err;
      log(`${modelId}: ${(err as Error).message}; planning against ${FALLBACK_BUDGET_MIB} MiB instead`);
      manifest = await write(FALLBACK_BUDGET_MIB);
    }
    const planned = Math.max(...manifest.pipeline.shards.map((s) => s.plannedMiB));
    log(`${modelId}: ${manifest.pipeline.shards.length} shards, planned peak ${planned} MiB`);
    variants.push({ bits, modelId, dir, manifest });
  }
  const build: LargeBuild = { base, reference, variants, fp32, parameters: { total, head } };
  await writeFile(reportFile, `${JSON.stringify(build, null, 2)}\n`);
  await writeFile(stampFile, stamp);
  log(
    `${base}: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${(total / 1e6).toFixed(1)} M parameters, ${(statSync(reference).size / MiB).toFixed(0)} MiB fp32)`,
  );
  return build;
}
