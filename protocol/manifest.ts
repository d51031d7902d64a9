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
    /** cut + labels + tail trainables → loss, logits, grad.<tail trainable>, grad.<cut>. */
    tailTrain: Artifact,
    /** cut + tail trainables → logits. */
    tailInfer: Artifact,
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

export const Manifest = z.object({
  schema: z.literal('splitflare.manifest/1'),
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
  artifacts: z.object({ head: Artifact, tail: Artifact, full: Artifact.optional() }),
  /** What the tail endpoint accepts. */
  wire: z.object({
    encodings: z.array(z.enum(ENCODINGS)).min(1),
    granularities: z.array(z.enum(GRANULARITIES)).min(1),
    maxBatch: z.number().int().positive(),
  }),
  /** Present when the model was built for split fine-tuning. */
  training: TrainingSpec.optional(),
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
