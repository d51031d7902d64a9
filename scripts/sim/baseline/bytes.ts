// What a baseline round puts on the wire, built as the real protocol builds
// it so that counting these bytes counts the traffic: a device downloads the
// published version as the coordinator encodes it, and uploads its update as
// the device SDK encodes a submission (safetensors of every trainable plus the
// round's metrics as metadata).
import { encodeHeadUpdate, type UpdateMetadata } from '../../../client-sdk/trainer/adapters.js';
import { encodeSafetensors } from '../../../common/safetensors.js';
import type { HostTensor } from '../../../models/onnx/tensor.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import type { Params } from './model.js';

/** One participant's upload: its trained trainables in the SDK's submit encoding. */
export function encodeUpdate(
  specs: readonly TrainableSpec[],
  params: Params,
  meta: UpdateMetadata,
): Uint8Array {
  const flat = Object.fromEntries(specs.map((s) => [s.name, params[s.name].data]));
  return encodeHeadUpdate(flat, specs, meta);
}

/**
 * One participant's download: version `version` of every trainable with the
 * metadata the coordinator's encodeAdapters adds for side `all` (without a
 * split the device holds every adapter).
 */
export function encodeVersion(specs: readonly TrainableSpec[], params: Params, version: number): Uint8Array {
  const tensors = new Map<string, HostTensor>(
    specs.map((s) => [s.name, { dtype: 'float32', dims: [...s.shape], data: params[s.name].data }]),
  );
  return encodeSafetensors(tensors, { version: String(version), side: 'all' });
}
