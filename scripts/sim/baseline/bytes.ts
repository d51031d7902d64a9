// What a baseline round puts on the wire, built as the real protocol builds
// it so that counting these bytes counts the traffic: a device downloads the
// published version as the coordinator encodes it, and uploads its update in
// the device's submit format (protocol/update.ts: safetensors of every
// trainable plus the round's metrics as metadata).
import { encodeSafetensors } from '../../../common/safetensors.js';
import type { HostTensor } from '../../../models/onnx/tensor.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import { encodeUpdate as encodeSubmission, type UpdateMetadata } from '../../../protocol/update.js';
import type { Params } from './model.js';

/** One participant's upload: its trained trainables in the submit format. */
export function encodeUpdate(
  specs: readonly TrainableSpec[],
  params: Params,
  meta: UpdateMetadata,
): Uint8Array {
  const flat = Object.fromEntries(specs.map((s) => [s.name, params[s.name].data]));
  return encodeSubmission(flat, specs, meta);
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
