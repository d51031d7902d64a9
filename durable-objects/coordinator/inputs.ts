// The shapes of the coordinator's RPC arguments. The Worker validates HTTP
// input before calling, but the object is the owner of its invariants and an
// RPC caller is just another client: arguments are checked again here.
import { z } from 'zod';
import { ENCODINGS } from '../../protocol/encoding.js';
import { DeviceId, FederationConfig, FederationId } from '../../protocol/federation.js';
import { TrainableSpec } from '../../protocol/manifest.js';
import { DeviceProfileReport } from '../../protocol/profile.js';
import { IdempotencyKey, UPDATE_LIMITS } from '../../protocol/update.js';

const Bytes = z.instanceof(Uint8Array);

export const CreateInput = z.object({
  id: FederationId,
  config: FederationConfig,
  trainables: z
    .array(TrainableSpec)
    .min(1)
    .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, 'trainable names must be unique'),
  /** safetensors holding every trainable's initial value: version 0 of the global adapters. */
  initial: Bytes,
  /** The model's cut id (manifest.cut.id), copied into tickets. */
  cut: z.string().max(256).optional(),
  /** The builds of the model at each cut the federation trains at, its own first (strategy/plan/configure.ts CutSpec). */
  cuts: z
    .array(
      z.object({
        modelId: z.string().min(1).max(64),
        id: z.string().max(256),
        depth: z.number().int().nonnegative(),
        sampleShape: z.array(z.number().int().positive()).min(1).max(8),
        encodings: z.array(z.enum(ENCODINGS)).min(1),
        head: z.array(z.string()),
      }),
    )
    .max(9)
    .optional(),
});
export type CreateInput = z.input<typeof CreateInput>;

/** Structure only: the update's content (sample count, metrics, tensors) is judged later as `invalid-update`. */
export const SubmitInput = z.object({
  deviceId: DeviceId,
  round: z.number().int().nonnegative(),
  sampleCount: z.number(),
  /** What the device's session counted; never the device's word. */
  observedSamples: z.number().int().nonnegative(),
  /** The device's update as submitted, bounded as the submit route bounds it. */
  head: Bytes.refine((b) => b.byteLength <= UPDATE_LIMITS.maxBytes, {
    message: `the head update is over ${UPDATE_LIMITS.maxBytes} bytes`,
  }),
  tail: Bytes,
  /** What the device's session measured of the tail: milliseconds for its samples, at its quickest step's time per sample. */
  tailTiming: z
    .object({ ms: z.number().nonnegative().max(1e9), samples: z.number().int().nonnegative() })
    .optional(),
  /** A shared tail's round: the steps the round's tail had taken when `tail` was read from it. */
  sharedTailSteps: z.number().int().nonnegative().optional(),
  /** `head` is a masked update (protocol/update.ts), for a federation that aggregates securely. */
  masked: z.boolean().default(false),
  metrics: z.unknown(),
  uplinkBytes: z.number().int().nonnegative(),
  downlinkBytes: z.number().int().nonnegative(),
  idempotencyKey: IdempotencyKey,
  /** The profile the update carried (protocol/update.ts): kept as a join's is. */
  profile: DeviceProfileReport.optional(),
});
export type SubmitInput = z.input<typeof SubmitInput>;

export const AdapterSide = z.enum(['head', 'tail', 'all']);
export type AdapterSide = z.infer<typeof AdapterSide>;

export const Version = z.number().int().nonnegative();

/** JSON with object keys sorted, so two equal configs compare equal whatever order their keys came in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The operator's evaluation set as the route recorded it in R2. */
export const EvaluationSetInput = z.object({
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  samples: z.number().int().positive(),
});
