// The head trainables on the wire: the published adapters a round starts from
// (safetensors from the coordinator) and the update the device submits (the
// same tensors after local training, with its metrics as __metadata__).
import { encodeSafetensors, parseSafetensors } from '../../common/safetensors.js';
import type { TrainableSpec } from '../../protocol/manifest.js';
import { ProtocolError } from '../errors.js';
import type { Params } from './head-graphs.js';

/** The head trainables of `specs` from a safetensors file, as fresh (mutable) arrays. */
export function decodeHeadAdapters(bytes: Uint8Array, specs: readonly TrainableSpec[]): Params {
  let tensors: ReturnType<typeof parseSafetensors>;
  try {
    tensors = parseSafetensors(bytes);
  } catch (err) {
    throw new ProtocolError(`the head adapters are unreadable: ${(err as Error).message}`, { cause: err });
  }
  const params: Params = {};
  for (const spec of specs) {
    const t = tensors.get(spec.name);
    if (!t) throw new ProtocolError(`the head adapters lack ${spec.name}`);
    if (
      t.dtype !== 'float32' ||
      t.dims.length !== spec.shape.length ||
      t.dims.some((d, i) => d !== spec.shape[i])
    ) {
      throw new ProtocolError(
        `adapter ${spec.name} is ${t.dtype} [${t.dims}], expected float32 [${spec.shape}]`,
      );
    }
    // parseSafetensors already copied; the optimizer may update these in place.
    params[spec.name] = t.data as Float32Array;
  }
  return params;
}

export interface UpdateMetadata {
  sampleCount: number;
  meanLoss: number;
  accuracy: number;
  steps: number;
  idempotencyKey: string;
}

/** The submit body: the trained head trainables with the round's metrics (safetensors metadata is strings only). */
export function encodeHeadUpdate(
  params: Params,
  specs: readonly TrainableSpec[],
  meta: UpdateMetadata,
): Uint8Array<ArrayBuffer> {
  const tensors = new Map(
    specs.map((s) => [s.name, { dtype: 'float32' as const, dims: [...s.shape], data: params[s.name] }]),
  );
  return encodeSafetensors(tensors, {
    sampleCount: String(meta.sampleCount),
    meanLoss: String(meta.meanLoss),
    accuracy: String(meta.accuracy),
    steps: String(meta.steps),
    idempotencyKey: meta.idempotencyKey,
  }) as Uint8Array<ArrayBuffer>;
}
