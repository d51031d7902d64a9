// The in-memory form of an image classification dataset, shared by the
// loaders, the batching helpers, tests and benchmarks.

export type DatasetName = 'mnist' | 'fashion-mnist';

export interface Normalization {
  /** Per-channel mean of the [0, 1] pixel values. */
  mean: readonly number[];
  /** Per-channel standard deviation of the [0, 1] pixel values. */
  std: readonly number[];
}

export interface Dataset {
  name: DatasetName;
  /** Class names, index-aligned with `labels`. */
  classes: readonly string[];
  channels: number;
  height: number;
  width: number;
  /** Number of examples. */
  size: number;
  /** size × channels × height × width, NCHW, already normalized with `normalization`. */
  images: Float32Array;
  /** Class index per example. */
  labels: Int32Array;
  normalization: Normalization;
}

export interface Batch {
  /** n × c × h × w, NCHW, normalized like the dataset. */
  pixels: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
}
