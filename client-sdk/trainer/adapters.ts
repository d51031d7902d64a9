// The head trainables on the wire: the published adapters a round starts from
// (safetensors from the coordinator) and the update the device submits (the
// same tensors after local training, with its metrics as metadata). Both
// formats are protocol/update.ts's; this only maps its errors to the SDK's.
import type { TrainableSpec } from '../../protocol/manifest.js';
import { encodeUpdate, readTrainables, UpdateError, type UpdateMetadata } from '../../protocol/update.js';
import { ProtocolError, RuntimeError } from '../errors.js';
import type { Params } from './head-graphs.js';

export type { UpdateMetadata } from '../../protocol/update.js';

/** The head trainables of `specs` from a safetensors file, as fresh (mutable) arrays. */
export function decodeHeadAdapters(bytes: Uint8Array, specs: readonly TrainableSpec[]): Params {
  try {
    // readTrainables copies; the optimizer may update these in place.
    return Object.fromEntries(readTrainables(bytes, specs));
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    throw new ProtocolError(`the head adapters are unreadable: ${err.message}`, { cause: err });
  }
}

/**
 * The submit body: the trained head trainables with the round's metrics.
 * What the server would refuse (a non-finite weight after a diverged step)
 * is a RuntimeError here, before anything is sent.
 */
export function encodeHeadUpdate(
  params: Params,
  specs: readonly TrainableSpec[],
  meta: UpdateMetadata,
): Uint8Array<ArrayBuffer> {
  try {
    return encodeUpdate(params, specs, meta);
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    throw new RuntimeError(`the trained head cannot be submitted: ${err.message}`, { cause: err });
  }
}
