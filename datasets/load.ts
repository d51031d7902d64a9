// Loading with a per-process cache: the raw 8-bit pixels are read once per
// dataset; normalized float copies are made once per (dataset, normalization).
import { NORMALIZATION, normalizeBytes } from './normalization.js';
import { type RawImages, readRawImages } from './raw.js';
import { SOURCES } from './sources.js';
import type { Dataset, DatasetName, Normalization } from './types.js';

export interface LoadOptions {
  /** Defaults to the dataset's constants in NORMALIZATION. */
  normalization?: Normalization;
}

const rawCache = new Map<DatasetName, Promise<RawImages>>();
const datasetCache = new Map<string, Promise<Dataset>>();

function raw(name: DatasetName): Promise<RawImages> {
  let pending = rawCache.get(name);
  if (!pending) {
    pending = readRawImages(SOURCES[name]);
    // A failed read (missing package, corrupt file) must not stick in the cache.
    pending.catch(() => rawCache.delete(name));
    rawCache.set(name, pending);
  }
  return pending;
}

export function loadDataset(name: DatasetName, options: LoadOptions = {}): Promise<Dataset> {
  const spec = SOURCES[name];
  if (!spec) return Promise.reject(new RangeError(`unknown dataset ${String(name)}`));
  const normalization = options.normalization ?? NORMALIZATION[name];
  const key = `${name}|${normalization.mean.join(',')}|${normalization.std.join(',')}`;
  let pending = datasetCache.get(key);
  if (!pending) {
    pending = raw(name).then(({ pixels, labels }) => ({
      name,
      classes: spec.classes,
      channels: spec.channels,
      height: spec.height,
      width: spec.width,
      size: labels.length,
      images: normalizeBytes(pixels, spec.channels, spec.height * spec.width, normalization),
      labels,
      normalization: { mean: [...normalization.mean], std: [...normalization.std] },
    }));
    pending.catch(() => datasetCache.delete(key));
    datasetCache.set(key, pending);
  }
  return pending;
}

/** The 10,000 MNIST digits of the `mnist` package, 1 × 28 × 28. */
export const loadMnist = (options?: LoadOptions): Promise<Dataset> => loadDataset('mnist', options);

/** The 70,000 Fashion-MNIST images of the `fashion-mnist` package, 1 × 28 × 28. */
export const loadFashionMnist = (options?: LoadOptions): Promise<Dataset> =>
  loadDataset('fashion-mnist', options);
