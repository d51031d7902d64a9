// Trainable values the tail runs with: a model's initial ones
// (training.artifacts.trainables, from the registry) or a published version's
// (from its federation). Both are immutable once published, so they are read
// once per isolate and kept, a few sets at a time, in JavaScript's share of
// the isolate's memory (memory.ts).
import { parseSafetensors } from '../common/safetensors.js';
import type { Manifest } from '../protocol/manifest.js';
import type { ArtifactStore } from './artifacts.js';
import { hold } from './memory.js';
import type { TrainableValues } from './shard-runtime.js';

/** Sets kept per isolate; a few models' adapters are small next to any graph. */
const KEEP = 4;
const cache = new Map<string, Promise<TrainableValues>>();

/**
 * The values for every trainable of `manifest` in a safetensors file; a
 * missing or non-float32 tensor is reported through `missing(name)`.
 */
export function valuesIn(
  manifest: Manifest,
  file: Uint8Array,
  missing: (name: string) => Error,
): TrainableValues {
  const tensors = parseSafetensors(file);
  const values: Record<string, Float32Array> = {};
  for (const spec of manifest.training?.trainables ?? []) {
    const t = tensors.get(spec.name);
    if (t?.dtype !== 'float32') throw missing(spec.name);
    values[spec.name] = t.data;
  }
  return values;
}

/** The set cached under `key`, loaded once per isolate; the least recently loaded set goes first. */
export function cachedValues(key: string, load: () => Promise<TrainableValues>): Promise<TrainableValues> {
  let hit = cache.get(key);
  if (!hit) {
    hit = load().then((values) => {
      hold(
        `values:${key}`,
        Object.values(values).reduce((a, v) => a + v.byteLength, 0),
      );
      return values;
    });
    hit.catch(() => cache.delete(key));
    cache.set(key, hit);
    while (cache.size > KEEP) {
      const [oldest] = cache.keys();
      cache.delete(oldest);
      hold(`values:${oldest}`, 0);
    }
  }
  return hit;
}

/** The initial value of every trainable of `manifest` ({} for an inference-only model). */
export function initialValues(store: ArtifactStore, manifest: Manifest): Promise<TrainableValues> {
  const artifact = manifest.training?.artifacts.trainables;
  if (!artifact) return Promise.resolve({});
  return cachedValues(`initial:${artifact.sha256}`, async () =>
    valuesIn(manifest, await store.bytes(artifact), (name) => {
      return new Error(`${manifest.modelId}: its initial trainables lack ${name}`);
    }),
  );
}
