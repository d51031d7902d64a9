// Trainable tensors (the tail's, or one shard's), held as views into one flat
// float32 buffer in manifest order: the optimizer updates the views in place,
// and persisting is one write of the flat buffer, with no per-step copies.
import { encodeSafetensors } from '../common/safetensors.js';
import type { TrainableSpec, TrainingSpec } from '../protocol/manifest.js';
import { readTrainables, UpdateError } from '../protocol/update.js';

export interface ParamSet {
  readonly specs: readonly TrainableSpec[];
  readonly flat: Float32Array;
  /** One view into `flat` per trainable, keyed by its graph input name. */
  readonly views: Record<string, Float32Array>;
}

const sizeOf = (spec: TrainableSpec) => spec.shape.reduce((a, b) => a * b, 1);

/** The Worker-side trainables. */
export function tailSpecs(training: TrainingSpec): TrainableSpec[] {
  return training.trainables.filter((t) => t.owner === 'tail');
}

export function paramSet(specs: readonly TrainableSpec[], flat: Float32Array): ParamSet {
  const total = specs.reduce((n, s) => n + sizeOf(s), 0);
  if (flat.length !== total) {
    throw new RangeError(`${flat.length} values for tail trainables of ${total} elements`);
  }
  const views: Record<string, Float32Array> = {};
  let at = 0;
  for (const spec of specs) {
    const n = sizeOf(spec);
    views[spec.name] = flat.subarray(at, at + n);
    at += n;
  }
  return { specs, flat, views };
}

/** A set holding `values` (copied), one per spec; throws if one is missing or mis-sized. */
export function paramsFrom(
  specs: readonly TrainableSpec[],
  values: Readonly<Record<string, Float32Array>>,
): ParamSet {
  const params = paramSet(specs, new Float32Array(specs.reduce((n, s) => n + sizeOf(s), 0)));
  for (const spec of specs) {
    const v = values[spec.name];
    if (!(v instanceof Float32Array) || v.length !== sizeOf(spec)) {
      throw new RangeError(`no ${sizeOf(spec)} float32 values for ${spec.name}`);
    }
    params.views[spec.name].set(v);
  }
  return params;
}

/** Bytes of the flat buffer, for storage (a view, not a copy). */
export function paramBytes(params: ParamSet): Uint8Array {
  return new Uint8Array(params.flat.buffer, params.flat.byteOffset, params.flat.byteLength);
}

/** The inverse of paramBytes; copies so the floats are aligned and owned. */
export function paramsFromBytes(specs: readonly TrainableSpec[], bytes: Uint8Array): ParamSet {
  const flat = new Float32Array(bytes.length / 4);
  new Uint8Array(flat.buffer).set(bytes);
  return paramSet(specs, flat);
}

/**
 * Reads the tail trainables out of a safetensors file. Every tail trainable
 * must be there as finite float32 of its manifest shape; head trainables are
 * ignored (the file may hold a whole version); anything else is refused.
 * Returns an error message instead of throwing: the bytes come from outside.
 */
export function parseTail(
  training: TrainingSpec,
  bytes: Uint8Array,
): { ok: true; params: ParamSet } | { ok: false; error: string } {
  const specs = tailSpecs(training);
  const head = training.trainables.filter((t) => t.owner !== 'tail').map((t) => t.name);
  try {
    const values = readTrainables(bytes, specs, { ignore: head });
    return { ok: true, params: paramsFrom(specs, Object.fromEntries(values)) };
  } catch (err) {
    if (err instanceof UpdateError) return { ok: false, error: `the tail: ${err.message}` };
    throw err;
  }
}

/** The trainables as safetensors (names sorted: same values, same bytes). */
export function paramsSafetensors(params: ParamSet): Uint8Array<ArrayBuffer> {
  // encodeSafetensors allocates a fresh (never shared) buffer.
  return encodeSafetensors(
    new Map(
      params.specs.map((s) => [
        s.name,
        { dtype: 'float32' as const, dims: [...s.shape], data: params.views[s.name] },
      ]),
    ),
  ) as Uint8Array<ArrayBuffer>;
}
