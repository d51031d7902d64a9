// What the SDK needs from an inference runtime: load a model from bytes, run it
// on named float32 tensors. The split client depends on this, not on a
// particular onnxruntime build, so tests and other runtimes can stand in.

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface HeadSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; every output must be float32. */
  run(feeds: Readonly<Record<string, FloatTensor>>): Promise<Record<string, FloatTensor>>;
  release(): Promise<void>;
}

export interface SessionFactory {
  (model: Uint8Array): Promise<HeadSession>;
  /**
   * The runtime's WebAssembly heap now (bytes), where it can be seen: a heap
   * only grows, so read after a head step it bounds the step's peak memory.
   */
  heapBytes?: () => number | undefined;
}
