// The manifest of a split model: what a device needs to run the head and talk
// to the Worker that runs the tail. Written by models/, served by workers/,
// read by client-sdk/. One schema, validated on every side.
import { z } from 'zod';
import { ENCODINGS, GRANULARITIES } from './encoding.js';

/** A dimension: a fixed size or a symbolic name (the batch). */
export const Dim = z.union([z.number().int().positive(), z.string().min(1)]);

export const TensorSpec = z.object({
  name: z.string().min(1),
  shape: z.array(Dim),
  dtype: z.enum(['float32', 'int64']),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

export const Artifact = z.object({
  /** File name, relative to the manifest. */
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** Number of parameters (float elements of initializers) in this segment. */
  parameters: z.number().int().nonnegative(),
});
export type Artifact = z.infer<typeof Artifact>;

/** One trainable tensor of a split training setup: a graph input of its segment's training artifacts. */
export const TrainableSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()),
  /** Which side trains it: the device (head) or the Worker (tail). */
  owner: z.enum(['head', 'tail']),
  role: z.enum(['lora_A', 'lora_B', 'full']),
  /** The frozen weight a LoRA pair adapts; for `full`, the parameter itself. */
  base: z.string().min(1),
});
export type TrainableSpec = z.infer<typeof TrainableSpec>;

/**
 * What split training needs besides the inference artifacts: plain-ONNX
 * forward/backward graphs for each side, the trainables, and their initial
 * values (a safetensors file).
 */
export const TrainingSpec = z.object({
  loss: z.literal('cross-entropy'),
  labels: TensorSpec,
  artifacts: z.object({
    /** pixels + head trainables → cut activation. */
    headForward: Artifact,
    /** pixels + head trainables + dL/d(cut) → grad.<head trainable>; absent when the head has no trainables. */
    headBackward: Artifact.optional(),
    /**
     * The unsharded tail's graphs, kept for tools and equivalence tests; the
     * edge runs the pipeline's shards. Absent for models too large to
     * differentiate in one piece.
     * cut + labels + tail trainables → loss, logits, grad.<tail trainable>, grad.<cut>.
     */
    tailTrain: Artifact.optional(),
    /** cut + tail trainables → logits. */
    tailInfer: Artifact.optional(),
    /** Initial values of every trainable (safetensors). */
    trainables: Artifact,
  }),
  /** Name of the dL/d(cut) input of headBackward. */
  cutGradInput: z.string().min(1),
  trainables: z.array(TrainableSpec),
  lora: z.object({
    rank: z.number().int().positive(),
    alpha: z.number().positive(),
    seed: z.number().int(),
    /** Regular-expression sources over initializer names. */
    targets: z.array(z.string()),
    full: z.array(z.string()),
  }),
});
export type TrainingSpec = z.infer<typeof TrainingSpec>;

/**
 * One stage of the tail pipeline: consecutive encoder blocks that run in an
 * isolate of their own (a shard Worker script), so that no isolate needs more
 * than one shard's weights.
 */
export const ShardSpec = z.object({
  index: z.number().int().nonnegative(),
  /** Encoder blocks (indices in the whole model) it runs; the last shard also runs what follows them. */
  blocks: z.array(z.number().int().nonnegative()),
  input: TensorSpec,
  output: TensorSpec,
  /** input + this shard's trainables → output: inference and the training forward pass. */
  forward: Artifact,
  /**
   * Training only. Every shard but the last: input + trainables + dL/d(output)
   * → grad.<input>, grad.<trainable> (the forward is recomputed inside, so a
   * shard keeps only its input between the passes). The last shard: input +
   * labels + trainables → loss, logits, grad.<trainable>, grad.<input>.
   */
  backward: Artifact.optional(),
  /** Names of the tail trainables its graphs take as inputs. */
  trainables: z.array(z.string()),
  /** Planned peak of an isolate running this shard (MiB): weights plus activations at the micro-batch. */
  plannedMiB: z.number().nonnegative(),
});
export type ShardSpec = z.infer<typeof ShardSpec>;

export const PipelineSpec = z.object({
  /** Per-isolate memory budget the build planned against (MiB). */
  budgetMiB: z.number().positive(),
  /** Samples per onnxruntime run inside a shard; a batch runs as consecutive micro-batches, bounding activation memory. */
  microBatch: z.number().int().positive(),
  /** Name of the dL/d(output) input of the backward graphs of every shard but the last. */
  gradInput: z.string().min(1),
  shards: z.array(ShardSpec).min(1),
});
export type PipelineSpec = z.infer<typeof PipelineSpec>;

/** How the frozen weights of the tail are stored. */
export const WeightFormat = z.object({
  bits: z.union([z.literal(32), z.literal(8), z.literal(4)]),
  /** Quantization block along the input dimension; absent for fp32. */
  block: z.number().int().positive().optional(),
});
export type WeightFormat = z.infer<typeof WeightFormat>;

export const Manifest = z.object({
  schema: z.literal('splitflare.manifest/2'),
  modelId: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  /** Where the model came from (builder config, or the source file name). */
  source: z.string(),
  opset: z.number().int().positive(),
  input: TensorSpec,
  output: TensorSpec,
  cut: z.object({
    /** Stable cut id: `embed`, `block<k>`, or `tensor:<name>`. */
    id: z.string().min(1),
    tensor: TensorSpec,
  }),
  /**
   * The split as ONNX files: the head (run by devices), and for tools the
   * unsharded tail and the unsplit model. A large model may leave the last two
   * out: the edge runs the pipeline's shards.
   */
  artifacts: z.object({ head: Artifact, tail: Artifact.optional(), full: Artifact.optional() }),
  /** What the tail endpoint accepts. */
  wire: z.object({
    encodings: z.array(z.enum(ENCODINGS)).min(1),
    granularities: z.array(z.enum(GRANULARITIES)).min(1),
    maxBatch: z.number().int().positive(),
  }),
  /** The tail as the edge runs it: one or more shards. */
  pipeline: PipelineSpec,
  /** Frozen weights of the tail (and the head, when quantized too). */
  weights: WeightFormat.default({ bits: 32 }),
  /** Present when the model was built for split fine-tuning. */
  training: TrainingSpec.optional(),
  /**
   * What the uplink gives away, found when the model was split
   * (models/split/exposure.ts). `affineUplink`: the activation is an affine
   * function of the input, so the server can reconstruct the input exactly
   * (analytic inversion). false is no promise of privacy: a learned decoder
   * can still reconstruct from a deeper cut (npm run privacy measures both).
   * Absent in manifests made before the check existed.
   */
  privacy: z.object({ affineUplink: z.boolean(), reason: z.string() }).optional(),
  /** Class names, index-aligned with the output logits. */
  labels: z.array(z.string()).optional(),
  /** How to turn an image into the input tensor. */
  preprocess: z
    .object({
      layout: z.literal('NCHW'),
      channels: z.number().int().positive(),
      height: z.number().int().positive(),
      width: z.number().int().positive(),
      mean: z.array(z.number()),
      std: z.array(z.number()),
    })
    .optional(),
});
export type Manifest = z.infer<typeof Manifest>;

/** Parameters of the tail: the unsharded tail's, or the sum over its shards. */
export function tailParameters(m: Manifest): number {
  return m.artifacts.tail?.parameters ?? m.pipeline.shards.reduce((a, s) => a + s.forward.parameters, 0);
}

/**
 * The artifacts the edge serves or runs, which a registry must hold for the
 * manifest to be published: the head, the unsplit model where the manifest
 * names one (for devices that run it all) and the device's training graphs
 * (sent to devices), the initial trainables, and every shard's graphs. The
 * unsharded tail stays with the builder.
 */
export function edgeArtifacts(m: Manifest): Artifact[] {
  const out: Artifact[] = [m.artifacts.head];
  // The unsplit graph, where a model keeps one, for devices that can run all of it.
  if (m.artifacts.full) out.push(m.artifacts.full);
  const t = m.training?.artifacts;
  if (t) {
    out.push(t.headForward, t.trainables);
    if (t.headBackward) out.push(t.headBackward);
  }
  for (const s of m.pipeline.shards) {
    out.push(s.forward);
    if (s.backward) out.push(s.backward);
  }
  const seen = new Set<string>();
  return out.filter((a) => !seen.has(a.sha256) && seen.add(a.sha256));
}
