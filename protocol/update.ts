// A device's update at the end of a round: its trained head trainables and
// what it reports about the round. One implementation, imported by the device
// SDK, the submit route, the coordinator, the sessions and the baseline
// simulator.
//
// Layout: a safetensors file (common/safetensors.ts, which reads it strictly:
// known dtypes, exact sizes, tensors tiling the data buffer with no overlap,
// gap or trailing byte) whose
//   tensors       are the device's trainables, each F32 of its manifest shape,
//                 every value finite
//   __metadata__  holds, as strings (safetensors metadata is strings only):
//     sampleCount      positive integer   } decimal, in JSON number syntax
//     meanLoss         finite, >= 0       } (the encoder writes String(x),
//     accuracy         in [0, 1]          } which reads back exactly)
//     steps            integer >= 0       }
//     idempotencyKey   1..128 characters
//     profile          optional: the device's profile (protocol/profile.ts)
//                      as JSON, at most 16 KiB
//                  (UpdateMetadata below says what each one means); other
//                  keys are ignored.
// Within UPDATE_LIMITS: 16 MiB in all, a 256 KiB header, 1,024 tensors.
//
// A masked update (secure aggregation, protocol/secagg/) has the same
// metadata and one tensor instead of the trainables: MASKED_TENSOR, I64 of
// shape [n], the device's trainables in manifest order, weighted, fixed-point
// encoded and masked, every value in [0, 2^48).
//
// Errors follow protocol/frame.ts: anything wrong with received bytes is an
// UpdateError with a stable code (a safetensors problem keeps the
// safetensors code); encodeUpdate throws the same UpdateError for values
// decodeUpdate would refuse, and TypeError for arguments of the wrong kind.
// readTrainables is the one check that a safetensors file holds exactly a
// side's trainables, for updates and for every other adapter file.
import { z } from 'zod';
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type SafetensorsErrorCode,
  type SafetensorsLimits,
} from '../common/safetensors.js';
import type { TrainableSpec } from './manifest.js';
import { DeviceProfileReport } from './profile.js';
import { MODULUS } from './secagg/ring.js';

export type UpdateErrorCode =
  | SafetensorsErrorCode
  /** The update is over UpdateLimits.maxBytes. */
  | 'too-large'
  /** No __metadata__ at all. */
  | 'missing-metadata'
  /** A metadata field is missing or invalid (or, from the safetensors layer, __metadata__ is not strings). */
  | 'bad-metadata'
  | 'not-float32'
  | 'non-finite'
  /** A tensor that is not one of the expected trainables. */
  | 'unknown-tensor'
  | 'missing-tensor'
  | 'wrong-shape'
  /** A masked update's value is not an element of the secure-aggregation ring. */
  | 'not-ring';

export class UpdateError extends Error {
  readonly code: UpdateErrorCode;
  constructor(code: UpdateErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'UpdateError';
    this.code = code;
  }
}

export interface UpdateLimits {
  /** Bytes of the whole update. */
  maxBytes: number;
  /** Bytes of its safetensors header. */
  maxHeaderBytes: number;
  maxTensors: number;
}

/** The one set of limits: the submit route, the coordinator and the SDK all use these. */
export const UPDATE_LIMITS: Readonly<UpdateLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxHeaderBytes: 256 * 1024,
  maxTensors: 1024,
});

/** Characters of an idempotency key, everywhere one is accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

export const IdempotencyKey = z
  .string()
  .min(1)
  .max(MAX_IDEMPOTENCY_KEY_LENGTH)
  .describe(
    'The same for every retry of one submission, so that a retry is applied once; ' +
      'another key for the same device and round is a duplicate-submission.',
  );

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** What the device reports with its trainables. */
export const UpdateMetadata = z.object({
  sampleCount: count
    .positive()
    .describe(
      'The labels the round’s steps carried, summed over every step the session applied, across ' +
        'all local epochs: an example trained in two epochs counts twice, and a step whose answer ' +
        'was lost (the session applied it) counts too. It is what the session observed, so the ' +
        'server can check it; FedAvg weights the update by it.',
    ),
  meanLoss: z
    .number()
    .nonnegative()
    .describe('Mean cross-entropy over the examples of the answered steps, weighted by step size.'),
  accuracy: z
    .number()
    .min(0)
    .max(1)
    .describe('Share of the answered steps’ examples that the tail classified correctly.'),
  steps: count.describe('Steps the session answered (one whose answer was lost is not counted).'),
  idempotencyKey: IdempotencyKey,
  profile: DeviceProfileReport.optional().describe(
    'The device’s profile as it stands after the round (what it measured while training), ' +
      'which replaces the one it last reported, as a join’s does.',
  ),
});
export type UpdateMetadata = z.infer<typeof UpdateMetadata>;

const MAX_PROFILE_CHARS = 16 * 1024;

// JSON's number grammar: no hex, no blanks, no "+1", no "", which Number() would all accept.
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const wireNumber = (schema: z.ZodNumber) =>
  z.string().regex(JSON_NUMBER, 'expected a decimal number').transform(Number).pipe(schema);

/** The metadata as the safetensors header carries it: strings. */
const WireMetadata = z.object({
  sampleCount: wireNumber(UpdateMetadata.shape.sampleCount),
  meanLoss: wireNumber(UpdateMetadata.shape.meanLoss),
  accuracy: wireNumber(UpdateMetadata.shape.accuracy),
  steps: wireNumber(UpdateMetadata.shape.steps),
  idempotencyKey: IdempotencyKey,
  profile: z
    .string()
    .max(MAX_PROFILE_CHARS)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'the profile is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(DeviceProfileReport)
    .optional(),
});

export interface Update {
  metadata: UpdateMetadata;
  /** Every tensor, float32 and finite; exactly the given trainables when decodeUpdate had specs. */
  tensors: Map<string, Float32Array>;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const safetensorsLimits = (l: UpdateLimits): SafetensorsLimits => ({
  maxHeaderBytes: l.maxHeaderBytes,
  maxTensors: l.maxTensors,
});

function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity.
    if (v - v !== 0) return i;
  }
  return -1;
}

function decode(bytes: Uint8Array, limits: SafetensorsLimits) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
  try {
    return decodeSafetensors(bytes, limits);
  } catch (err) {
    if (err instanceof SafetensorsError)
      throw new UpdateError(err.code, err.message.slice(err.code.length + 2));
    throw err;
  }
}

/** Float32 and finite, whatever the name. */
function floatTensors(tensors: ReturnType<typeof decode>['tensors']): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32')
      throw new UpdateError('not-float32', `${name} is ${t.dtype}, expected float32`);
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new UpdateError('non-finite', `${name}[${bad}] is ${t.data[bad]}`);
    out.set(name, t.data);
  }
  return out;
}

/** Exactly `specs`, of their shapes; names in `ignore` may be there too and are dropped. */
function pickTrainables(
  tensors: ReturnType<typeof decode>['tensors'],
  specs: readonly TrainableSpec[],
  ignore: ReadonlySet<string>,
): Map<string, Float32Array> {
  const expected = new Set(specs.map((s) => s.name));
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !ignore.has(name)) {
      throw new UpdateError('unknown-tensor', `${JSON.stringify(name)} is not a trainable here`);
    }
  }
  const out = new Map<string, Float32Array>();
  for (const spec of specs) {
    const t = tensors.get(spec.name);
    if (!t) throw new UpdateError('missing-tensor', `${spec.name} is missing`);
    if (t.dtype !== 'float32') {
      throw new UpdateError('not-float32', `${spec.name} is ${t.dtype}, expected float32`);
    }
    if (t.dims.length !== spec.shape.length || t.dims.some((d, i) => d !== spec.shape[i])) {
      throw new UpdateError('wrong-shape', `${spec.name} is [${t.dims}], expected [${spec.shape}]`);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new UpdateError('non-finite', `${spec.name}[${bad}] is ${t.data[bad]}`);
    out.set(spec.name, t.data);
  }
  return out;
}

export interface TrainablesOptions {
  /** Names that may be present besides the trainables and are skipped (a whole version read for one side). */
  ignore?: Iterable<string>;
  /** Default: the safetensors defaults. */
  limits?: SafetensorsLimits;
}

/**
 * The values of exactly `specs` from a safetensors file: each one there, F32
 * of its shape, every value finite, and no other tensor unless `ignore`d.
 * The arrays are fresh copies. Zero bytes stand for a side without
 * trainables, which has nothing to send. Throws UpdateError.
 */
export function readTrainables(
  bytes: Uint8Array,
  specs: readonly TrainableSpec[],
  options?: TrainablesOptions,
): Map<string, Float32Array> {
  if (bytes.byteLength === 0 && specs.length === 0) return new Map();
  const { tensors } = decode(bytes, options?.limits ?? {});
  return pickTrainables(tensors, specs, new Set(options?.ignore ?? []));
}

/** What every update shares, plain or masked: its size, strict safetensors structure and metadata. */
function readEnvelope(bytes: Uint8Array, limits: UpdateLimits) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
  if (bytes.byteLength > limits.maxBytes) {
    throw new UpdateError('too-large', `${bytes.byteLength} bytes, the limit is ${limits.maxBytes}`);
  }
  const file = decode(bytes, safetensorsLimits(limits));
  if (!file.hasMetadata) throw new UpdateError('missing-metadata', 'the update has no __metadata__');
  const parsed = WireMetadata.safeParse(file.metadata);
  if (!parsed.success) {
    throw new UpdateError('bad-metadata', `__metadata__: ${z.prettifyError(parsed.error)}`);
  }
  return { file, metadata: parsed.data };
}

/**
 * Validates a device's update: size, strict safetensors structure, float32
 * finite tensors (exactly `specs` when given) and the metadata. Throws
 * UpdateError.
 */
export function decodeUpdate(
  bytes: Uint8Array,
  limits: UpdateLimits = UPDATE_LIMITS,
  specs?: readonly TrainableSpec[],
): Update {
  const { file, metadata } = readEnvelope(bytes, limits);
  const tensors = specs ? pickTrainables(file.tensors, specs, new Set()) : floatTensors(file.tensors);
  return { metadata, tensors };
}

/**
 * The update a device submits: `values` of every spec (float32, finite, of
 * the spec's size) with the round's metadata. Names sorted, so equal inputs
 * give equal bytes. Throws UpdateError for what decodeUpdate would refuse.
 */
export function encodeUpdate(
  values: Readonly<Record<string, Float32Array>>,
  specs: readonly TrainableSpec[],
  metadata: UpdateMetadata,
  limits: UpdateLimits = UPDATE_LIMITS,
): Uint8Array<ArrayBuffer> {
  const meta = UpdateMetadata.safeParse(metadata);
  if (!meta.success) throw new UpdateError('bad-metadata', z.prettifyError(meta.error));
  if (specs.length > limits.maxTensors) {
    throw new UpdateError('too-many-tensors', `${specs.length} tensors, the limit is ${limits.maxTensors}`);
  }
  const tensors = new Map(
    specs.map((s) => {
      const data = values[s.name];
      if (data === undefined) throw new UpdateError('missing-tensor', `${s.name} is missing`);
      if (!(data instanceof Float32Array)) throw new TypeError(`${s.name} must be a Float32Array`);
      if (data.length !== sizeOf(s.shape)) {
        throw new UpdateError('wrong-shape', `${data.length} values for ${s.name} [${s.shape}]`);
      }
      const bad = firstNonFinite(data);
      if (bad >= 0) throw new UpdateError('non-finite', `${s.name}[${bad}] is ${data[bad]}`);
      return [s.name, { dtype: 'float32' as const, dims: [...s.shape], data }];
    }),
  );
  const out = encodeSafetensors(tensors, wireMetadata(meta.data)) as Uint8Array<ArrayBuffer>;
  const header = Number(new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true));
  if (header > limits.maxHeaderBytes) {
    throw new UpdateError(
      'header-too-large',
      `a ${header}-byte header, the limit is ${limits.maxHeaderBytes}`,
    );
  }
  if (out.byteLength > limits.maxBytes) {
    throw new UpdateError('too-large', `${out.byteLength} bytes, the limit is ${limits.maxBytes}`);
  }
  return out;
}

/** The one tensor of a masked update. */
export const MASKED_TENSOR = 'secagg.masked';

export interface MaskedUpdate {
  metadata: UpdateMetadata;
  /** Ring elements (protocol/secagg/ring.ts), as float64 integers. */
  masked: Float64Array;
}

function wireMetadata(m: UpdateMetadata): Record<string, string> {
  return {
    sampleCount: String(m.sampleCount),
    meanLoss: String(m.meanLoss),
    accuracy: String(m.accuracy),
    steps: String(m.steps),
    idempotencyKey: m.idempotencyKey,
    ...(m.profile ? { profile: JSON.stringify(m.profile) } : {}),
  };
}

/** A masked update of `length` ring elements (any length when undefined); throws UpdateError. */
export function decodeMaskedUpdate(
  bytes: Uint8Array,
  length: number | undefined,
  limits: UpdateLimits = UPDATE_LIMITS,
): MaskedUpdate {
  const { file, metadata } = readEnvelope(bytes, limits);
  for (const name of file.tensors.keys()) {
    if (name !== MASKED_TENSOR)
      throw new UpdateError('unknown-tensor', `${JSON.stringify(name)} in a masked update`);
  }
  const t = file.tensors.get(MASKED_TENSOR);
  if (!t) throw new UpdateError('missing-tensor', `${MASKED_TENSOR} is missing`);
  if (t.dtype !== 'int64' || t.dims.length !== 1 || (length !== undefined && t.dims[0] !== length)) {
    throw new UpdateError(
      'wrong-shape',
      `${MASKED_TENSOR} is ${t.dtype} [${t.dims}], expected int64 [${length ?? 'n'}]`,
    );
  }
  const masked = new Float64Array(t.dims[0]);
  for (let i = 0; i < masked.length; i++) {
    const v = Number(t.data[i]);
    if (!(v >= 0 && v < MODULUS)) throw new UpdateError('not-ring', `${MASKED_TENSOR}[${i}] is ${t.data[i]}`);
    masked[i] = v;
  }
  return { metadata, masked };
}

export function encodeMaskedUpdate(masked: Float64Array, metadata: UpdateMetadata): Uint8Array<ArrayBuffer> {
  const meta = UpdateMetadata.safeParse(metadata);
  if (!meta.success) throw new UpdateError('bad-metadata', z.prettifyError(meta.error));
  const data = new BigInt64Array(masked.length);
  for (let i = 0; i < masked.length; i++) {
    const v = masked[i];
    if (!(v >= 0 && v < MODULUS && Number.isInteger(v)))
      throw new UpdateError('not-ring', `value ${i} is ${v}`);
    data[i] = BigInt(v);
  }
  const tensors = new Map([[MASKED_TENSOR, { dtype: 'int64' as const, dims: [masked.length], data }]]);
  return encodeSafetensors(tensors, wireMetadata(meta.data)) as Uint8Array<ArrayBuffer>;
}
