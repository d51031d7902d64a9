// The values a model's trainables start from (training.artifacts.trainables),
// read from the registry once per isolate and kept: the base model's
// inference needs them on every request.
import { parseSafetensors } from '../common/safetensors.js';
import type { Manifest } from '../protocol/manifest.js';
import type { ArtifactStore } from './artifacts.js';
import { hold } from './memory.js';
import type { TrainableValues } from './shard-runtime.js';

const cache = new Map<string, Promise<TrainableValues>>();
/** Sets kept per isolate; a few models' initial adapters are small next to any graph. */
const KEEP = 4;

async function load(store: ArtifactStore, manifest: Manifest): Promise<TrainableValues> {
  const artifact = manifest.training?.artifacts.trainables;
  if (!artifact) return {};
  const tensors = parseSafetensors(await store.bytes(artifact));
  const values: Record<string, Float32Array> = {};
  let bytes = 0;
  for (const spec of manifest.training?.trainables ?? []) {
    const t = tensors.get(spec.name);
    if (t?.dtype !== 'float32') throw new Error(`${manifest.modelId}: initial trainables lack ${spec.name}`);
    values[spec.name] = t.data;
    bytes += t.data.byteLength;
  }
  hold(`initial:${artifact.sha256}`, bytes);
  return values;
}

/** The initial value of every trainable of `manifest` ({} for an inference-only model). */
export function initialValues(store: ArtifactStore, manifest: Manifest): Promise<TrainableValues> {
  const sha = manifest.training?.artifacts.trainables.sha256 ?? '';
  let hit = cache.get(sha);
  if (!hit) {
    hit = load(store, manifest);
    hit.catch(() => cache.delete(sha));
    cache.set(sha, hit);
    while (cache.size > KEEP) {
      const [oldest] = cache.keys();
      cache.delete(oldest);
      hold(`initial:${oldest}`, 0);
    }
  }
  return hit;
}
