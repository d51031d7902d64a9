// `npm start -- --model vit-b16` and `npm start -- --onnx <export.onnx>`: the
// large-model path end to end on the local edge. Builds the model (seeded
// ViT-B/16, or the user's export) cut at `embed` with int8 and int4 frozen
// weights in the tail, sharded for the per-isolate budget; starts the Worker
// and its shard scripts (wrangler dev), publishes both variants to the local
// R2 registry; runs split inference from the SDK on real digits (resized to
// the model's input) at every activation encoding and compares each
// prediction with the unsplit fp32 model's; then a short federated run trains
// the int4 variant's LoRA adapters through the sharded tail.
import { graphOf, loadModel, realInputs, shapeOf } from '../../models/onnx/model.js';
import type { Encoding } from '../../protocol/encoding.js';
import { type EncodingResult, evaluateSplit } from '../split-eval.js';
import { startLocalWorker } from '../wrangler-dev.js';
import { buildLargeModel, type LargeBuild, type LargeSource } from './build.js';
import { type ShortRunResult, shortFederatedRun } from './train.js';

export interface LargeRunOptions {
  source: LargeSource;
  bits: Array<4 | 8>;
  encodings: Encoding[];
  samples: number;
  batch: number;
  budgetMiB?: number;
  microBatch?: number;
  train: boolean;
  log: (line: string) => void;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface LargeRunResult {
  model: string;
  parameters: { total: number; head: number; device_share: number };
  fp32_weights: LargeBuild['fp32'];
  variants: Record<
    string,
    {
      model: string;
      shards: number;
      planned_mib_max: number;
      encodings: Record<string, Omit<EncodingResult, 'encoding'>>;
    }
  >;
  training?: ShortRunResult & { model: string };
}

async function inputShapeOf(reference: string) {
  const input = realInputs(graphOf(await loadModel(reference)))[0];
  const [, channels, height, width] = shapeOf(input);
  if (typeof channels !== 'number' || typeof height !== 'number' || typeof width !== 'number') {
    throw new Error(`the model input ${input.name} is not [batch, C, H, W] with static C, H, W`);
  }
  return { channels, height, width };
}

export async function runLarge(o: LargeRunOptions): Promise<LargeRunResult> {
  const build = await buildLargeModel({
    source: o.source,
    bits: o.bits,
    budgetMiB: o.budgetMiB,
    microBatch: o.microBatch,
    log: o.log,
  });
  const inputShape = await inputShapeOf(build.reference);
  o.log('starting the Worker and its shard scripts (wrangler dev, workerd, 127.0.0.1)...');
  const worker = await startLocalWorker({
    publish: build.variants.map((v) => v.modelId),
    timeoutMs: 300_000,
  });
  o.log(`Worker ready at ${worker.url}; published ${build.variants.map((v) => v.modelId).join(', ')}`);
  try {
    const variants: LargeRunResult['variants'] = {};
    for (const v of build.variants) {
      const results = await evaluateSplit({
        baseUrl: worker.url,
        modelId: v.modelId,
        encodings: o.encodings,
        samples: o.samples,
        batchSize: o.batch,
        reference: build.reference,
        inputShape,
        timeoutMs: 600_000,
        onProgress: (encoding, done, total) => o.onProgress?.(`int${v.bits} ${encoding}`, done, total),
      });
      variants[`int${v.bits}`] = {
        model: v.modelId,
        shards: v.manifest.pipeline.shards.length,
        planned_mib_max: Math.max(...v.manifest.pipeline.shards.map((s) => s.plannedMiB)),
        encodings: Object.fromEntries(results.map(({ encoding, ...rest }) => [encoding, rest])),
      };
    }
    const result: LargeRunResult = {
      model: build.base,
      parameters: {
        ...build.parameters,
        device_share: build.parameters.head / build.parameters.total,
      },
      fp32_weights: build.fp32,
      variants,
    };
    if (o.train) {
      const target = build.variants.find((v) => v.bits === 4) ?? build.variants[0];
      o.log(
        `short federated run: 2 devices, batch 4, LoRA on ${target.modelId} through ${target.manifest.pipeline.shards.length} shards`,
      );
      const run = await shortFederatedRun({
        baseUrl: worker.url,
        modelId: target.modelId,
        inputShape,
        log: o.log,
      });
      result.training = { ...run, model: target.modelId };
    }
    return result;
  } finally {
    await worker.stop();
  }
}
