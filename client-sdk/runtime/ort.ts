// A SessionFactory over an onnxruntime namespace (onnxruntime-web in browsers
// and Node, onnxruntime-node also fits). The namespace is passed in rather
// than imported so this module, and everything above it, loads without ORT
// and without Node-only APIs.
import { RuntimeError } from '../errors.js';
import { WasmHeapWatch } from './heap.js';
import type { FloatTensor, HeadSession, SessionFactory } from './types.js';

/** The part of an onnxruntime tensor the SDK reads. */
export interface OrtTensorLike {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}

export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

/** The structural subset of `import * as ort from 'onnxruntime-web'` the SDK uses. */
export interface OrtLike {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
  env: { wasm: { numThreads?: number } };
}

export interface OrtSessionOptions {
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** One heap per onnxruntime namespace: every factory over it shares its WebAssembly instance. */
const heaps = new WeakMap<OrtLike, { watch: WasmHeapWatch; started: boolean }>();

export function ortSessionFactory(ort: OrtLike, options: OrtSessionOptions = {}): SessionFactory {
  const heap = heaps.get(ort) ?? { watch: new WasmHeapWatch(), started: false };
  heaps.set(ort, heap);
  const factory = async (model: Uint8Array) => {
    const create = () => ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', ...options });
    // ORT instantiates its WebAssembly at its first session: that one is watched.
    const first = !heap.started;
    heap.started = true;
    let session: OrtSessionLike;
    try {
      session = await (first ? heap.watch.during(create) : create());
    } catch (e) {
      throw new RuntimeError(`cannot load the head model: ${messageOf(e)}`, { cause: e });
    }
    return wrapSession(ort, session);
  };
  return Object.assign(factory, { heapBytes: () => heap.watch.bytes() });
}

function wrapSession(ort: OrtLike, session: OrtSessionLike): HeadSession {
  // One run at a time per session: the WASM backend shares one heap and some
  // builds reject overlapping runs, and queueing keeps per-run timings honest.
  let queue: Promise<unknown> = Promise.resolve();
  const runOnce = async (
    feeds: Readonly<Record<string, FloatTensor>>,
  ): Promise<Record<string, FloatTensor>> => {
    const ortFeeds: Record<string, OrtTensorLike> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    let outputs: Record<string, OrtTensorLike>;
    try {
      outputs = await session.run(ortFeeds);
    } catch (e) {
      throw new RuntimeError(`head run failed: ${messageOf(e)}`, { cause: e });
    }
    const result: Record<string, FloatTensor> = {};
    for (const [name, t] of Object.entries(outputs)) {
      if (t.type !== 'float32' || !(t.data instanceof Float32Array)) {
        throw new RuntimeError(`head output ${name} is ${t.type}, not float32`);
      }
      result[name] = { data: t.data, dims: [...t.dims] };
    }
    return result;
  };
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run(feeds) {
      const next = queue.then(() => runOnce(feeds));
      queue = next.catch(() => undefined);
      return next;
    },
    release: () => session.release(),
  };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
