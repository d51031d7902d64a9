// Browser entry point. onnxruntime-web is imported on first use (it is several
// megabytes; pages should not pay for it before they infer), or the caller
// passes the ort namespace it already loaded. Where the .wasm files are served
// from is the page's business: `wasmPaths`.
import {
  createSplitClient as createCoreClient,
  createDynamicClient as createCoreDynamicClient,
  type DynamicClient,
  type DynamicClientOptions,
  type SplitClient,
  type SplitClientOptions,
} from './core.js';
import { type OrtLike, type OrtSessionOptions, ortSessionFactory } from './runtime/ort.js';
import type { SessionFactory } from './runtime/types.js';
import {
  type CoreTrainerOptions,
  createTrainer as createCoreTrainer,
  type Trainer,
} from './trainer/index.js';

export * from './core.js';
export * from './trainer/index.js';

/** Where ORT finds its files: a URL prefix, or the .wasm/.mjs URLs themselves. */
export type WasmPaths = string | { wasm?: string | URL; mjs?: string | URL };

export type BrowserOrt = OrtLike & { env: { wasm: { numThreads?: number; wasmPaths?: WasmPaths } } };

export interface BrowserSplitClientOptions extends SplitClientOptions {
  /** An already imported onnxruntime-web namespace; default a dynamic import of 'onnxruntime-web'. */
  ort?: BrowserOrt;
  wasmPaths?: WasmPaths;
  /** WASM threads; unset leaves ORT's default (threads need a cross-origin isolated page). */
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  /** Replaces onnxruntime-web altogether. */
  sessionFactory?: SessionFactory;
}

export function browserSessionFactory(
  options: Pick<BrowserSplitClientOptions, 'ort' | 'wasmPaths' | 'numThreads' | 'sessionOptions'> = {},
): SessionFactory {
  let factory: Promise<SessionFactory> | undefined;
  let loaded: SessionFactory | undefined;
  const create = async (model: Uint8Array) => {
    factory ??= (async () => {
      const ort: BrowserOrt = options.ort ?? (await import('onnxruntime-web'));
      if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
      if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
      loaded = ortSessionFactory(ort, { executionProviders: ['wasm'], ...options.sessionOptions });
      return loaded;
    })();
    return (await factory)(model);
  };
  return Object.assign(create, { heapBytes: () => loaded?.heapBytes?.() });
}

export function createSplitClient(options: BrowserSplitClientOptions): SplitClient {
  return createCoreClient({
    ...options,
    sessionFactory: options.sessionFactory ?? browserSessionFactory(options),
  });
}

export interface BrowserDynamicClientOptions extends Omit<DynamicClientOptions, 'sessionFactory'> {
  ort?: BrowserOrt;
  wasmPaths?: WasmPaths;
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  sessionFactory?: SessionFactory;
}

/** Inference that picks per request where to run: in the page, or split at one of several builds' cuts. */
export function createDynamicClient(options: BrowserDynamicClientOptions): DynamicClient {
  return createCoreDynamicClient({
    ...options,
    sessionFactory: options.sessionFactory ?? browserSessionFactory(options),
  });
}

export interface BrowserTrainerOptions extends Omit<CoreTrainerOptions, 'sessionFactory'> {
  ort?: BrowserOrt;
  wasmPaths?: WasmPaths;
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  /** Replaces onnxruntime-web altogether. */
  sessionFactory?: SessionFactory;
}

/** The split federated trainer with the head graphs on onnxruntime-web in the page. */
export function createTrainer(options: BrowserTrainerOptions): Trainer {
  return createCoreTrainer({
    ...options,
    sessionFactory: options.sessionFactory ?? browserSessionFactory(options),
  });
}
