// Splits a model and writes the deployable set: head.onnx, tail.onnx,
// optionally full.onnx, and manifest.json describing them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Manifest, type WeightFormat } from '../../protocol/manifest.js';
import { graphOf, saveModel } from '../onnx/model.js';
import type { ModelProto, ValueInfoProto } from '../onnx/proto.js';
import {
  DEFAULT_BUDGET_MIB,
  type TailTrainables,
  type WrittenPipeline,
  writePipeline,
} from '../pipeline/index.js';
import type { Cut } from './cut.js';
import { uplinkExposure } from './exposure.js';
import { artifactOf, buildManifest, DEFAULT_WIRE } from './manifest.js';
import { type SplitModels, splitModel } from './splitter.js';

export interface WriteSplitOptions {
  model: ModelProto;
  cut: Cut;
  outDir: string;
  modelId: string;
  /** Where the model came from: builder config or source file name. */
  source: string;
  labels?: string[];
  preprocess?: Manifest['preprocess'];
  wire?: Partial<Manifest['wire']>;
  /** Also write the unsplit model as full.onnx (default true): devices and benchmarks use it as the baseline. */
  full?: boolean;
  /** Also write the unsharded tail as tail.onnx (default true); the edge runs the pipeline's shards. */
  tail?: boolean;
  /** How the tail is sharded for the edge; by default it is planned against a 96 MiB budget. */
  pipeline?: PipelineChoice;
}

/** Bounds activation memory for a small model without costing it much speed. */
export const DEFAULT_MICRO_BATCH = 32;

export interface PipelineChoice {
  /** Per-isolate budget (MiB). */
  budgetMiB?: number;
  /** Samples per onnxruntime run inside a shard (default 32, or maxBatch if smaller). */
  microBatch?: number;
  /** Force this many shards instead of planning by budget. */
  shards?: number;
  /** The frozen weights' format and the graph transform that produces it (models/quantize). */
  weights?: {
    format: WeightFormat;
    transform: (m: ModelProto) => ModelProto;
    bytesPerWeight: (n: number) => number;
  };
}

export interface WriteSplitResult {
  manifest: Manifest;
  split: SplitModels;
  pipeline: WrittenPipeline;
}

export const MANIFEST_FILE = 'manifest.json';

/** Values per example of a declared tensor (its dims after the batch), or null if any is symbolic. */
function perExample(info: ValueInfoProto | undefined): number | null {
  const dims = info?.type?.tensorType?.shape?.dim ?? [];
  let n = 1;
  for (const d of dims.slice(1)) {
    if (d.dimValue == null) return null;
    n *= Number(d.dimValue);
  }
  return dims.length > 1 ? n : null;
}

/** The manifest's privacy entry for a head, when its input and cut sizes are known. */
function headExposure(head: ModelProto, model: ModelProto, cut: ValueInfoProto): Manifest['privacy'] {
  const graph = graphOf(model);
  const input = graph.input?.find((i) => !(graph.initializer ?? []).some((t) => t.name === i.name));
  const inputSize = perExample(input);
  const cutSize = perExample(cut);
  if (!input?.name || !cut.name || inputSize === null || cutSize === null) return undefined;
  return uplinkExposure(head, input.name, cut.name, { input: inputSize, cut: cutSize });
}

export async function writeSplit(options: WriteSplitOptions): Promise<Manifest> {
  return (await writeSplitDetailed(options)).manifest;
}

/** As writeSplit, also returning the split models and how crossing tensors were handled. */
export async function writeSplitDetailed(
  options: WriteSplitOptions,
  trainables?: TailTrainables,
): Promise<WriteSplitResult> {
  // Reject a bad id before anything is written.
  Manifest.shape.modelId.parse(options.modelId);
  const split = await splitModel(options.model, options.cut);
  await mkdir(options.outDir, { recursive: true });
  const save = async (file: string, model: ModelProto) =>
    artifactOf(file, await saveModel(join(options.outDir, file), model), model);
  const head = await save('head.onnx', split.head);
  const tail = options.tail === false ? undefined : await save('tail.onnx', split.tail);
  const full = options.full === false ? undefined : await save('full.onnx', options.model);
  const cutInfo = graphOf(split.head).output?.[0];
  if (!cutInfo) throw new Error('internal: head has no output');
  const wire = { ...DEFAULT_WIRE, ...options.wire };
  const choice = options.pipeline ?? {};
  const pipeline = await writePipeline(split.tail, {
    outDir: options.outDir,
    budgetMiB: choice.budgetMiB ?? DEFAULT_BUDGET_MIB,
    microBatch: choice.microBatch ?? Math.min(wire.maxBatch, DEFAULT_MICRO_BATCH),
    shards: choice.shards,
    bytesPerWeight: choice.weights?.bytesPerWeight,
    bits: choice.weights?.format.bits,
    transform: choice.weights?.transform,
    trainables,
  });
  const manifest = buildManifest({
    modelId: options.modelId,
    source: options.source,
    model: options.model,
    head,
    tail,
    full,
    cutId: split.cutId,
    cut: cutInfo,
    labels: options.labels,
    preprocess: options.preprocess,
    wire,
    pipeline: pipeline.spec,
    weights: choice.weights?.format,
    privacy: headExposure(split.head, options.model, cutInfo),
  });
  await writeFile(join(options.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, split, pipeline };
}
