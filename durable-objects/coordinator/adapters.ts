// Published adapter versions as safetensors. The bytes depend only on the
// tensor values, the version and the side (no federation id, no timestamps),
// so equal aggregates give byte-identical files that can be compared or hashed.
import { encodeSafetensors } from '../../common/safetensors.js';
import type { HostTensor } from '../../models/onnx/tensor.js';
import type { TrainableSpec } from '../../protocol/manifest.js';
import type { AdapterSide } from './inputs.js';
import type { CoordinatorStore } from './storage.js';
import { numel } from './update.js';

export function encodeAdapters(
  store: CoordinatorStore,
  trainables: readonly TrainableSpec[],
  version: number,
  side: AdapterSide,
): Uint8Array<ArrayBuffer> {
  const tensors = new Map<string, HostTensor>();
  for (const t of trainables) {
    if (side !== 'all' && t.owner !== side) continue;
    const data = store.readAdapter(version, t.name, numel(t.shape));
    if (!data) throw new Error(`adapters: version ${version} has no ${t.name}`);
    tensors.set(t.name, { dtype: 'float32', dims: [...t.shape], data });
  }
  // encodeSafetensors allocates a plain ArrayBuffer; the narrower type lets callers hand it to Response bodies.
  return encodeSafetensors(tensors, { version: String(version), side }) as Uint8Array<ArrayBuffer>;
}

/** Published versions never change, so their encodings can be kept; a few cover the versions in use. */
export class EncodedCache {
  private readonly entries = new Map<string, Uint8Array<ArrayBuffer>>();

  constructor(private readonly capacity = 6) {}

  /** `layout`: which build of the model splits the sides (a federation with several cuts has one per cut). */
  get(
    version: number,
    side: AdapterSide,
    encode: () => Uint8Array<ArrayBuffer>,
    layout = '',
  ): Uint8Array<ArrayBuffer> {
    const key = `${version}/${side}/${layout}`;
    let bytes = this.entries.get(key);
    if (!bytes) {
      bytes = encode();
      this.entries.set(key, bytes);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    return bytes;
  }
}
