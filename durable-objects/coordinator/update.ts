// Checks a safetensors payload against the trainables it must hold. Updates
// come from devices (and initial values from the model build): anything that
// is not exactly the expected float32 tensors with finite values is refused
// before it can touch an accumulator. The check is protocol/update.ts's
// readTrainables; this only turns its error into the coordinator's result.
import type { TrainableSpec } from '../../protocol/manifest.js';
import {
  decodeMaskedUpdate,
  readTrainables,
  UpdateError,
  type UpdateErrorCode,
} from '../../protocol/update.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string; code: UpdateErrorCode };

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The tensors named by `specs`, in the payload's float32 values. An empty
 * payload stands for "no tensors", which is all a side without trainables
 * can send.
 */
export function readTensors(
  bytes: Uint8Array,
  specs: readonly TrainableSpec[],
  what: string,
): Checked<Map<string, Float32Array>> {
  try {
    return { ok: true, value: readTrainables(bytes, specs) };
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    return { ok: false, reason: `${what}: ${err.message}`, code: err.code };
  }
}

/** A masked update's ring elements (secure aggregation): `length` of them, each in the ring. */
export function readMasked(bytes: Uint8Array, length: number): Checked<Float64Array> {
  try {
    return { ok: true, value: decodeMaskedUpdate(bytes, length).masked };
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    return { ok: false, reason: `masked update: ${err.message}`, code: err.code };
  }
}
