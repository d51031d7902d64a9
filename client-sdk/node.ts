// Node entry point: the split client on onnxruntime-web's Node build (its WASM
// backend, the same kernels browsers and workerd run, so numbers compare).
import * as ort from 'onnxruntime-web';
import {
  createSplitClient as createCoreClient,
  createDynamicClient as createCoreDynamicClient,
  type DynamicClient,
  type DynamicClientOptions,
  type SplitClient,
  type SplitClientOptions,
} from './core.js';
import { type OrtSessionOptions, ortSessionFactory } from './runtime/ort.js';
import type { SessionFactory } from './runtime/types.js';
import {
  type CoreTrainerOptions,
  createTrainer as createCoreTrainer,
  type Trainer,
} from './trainer/index.js';

export * from './core.js';
export * from './trainer/index.js';

export interface NodeSplitClientOptions extends SplitClientOptions {
  /** WASM threads; default 1 (extra threads cost start-up and rarely pay off for a small head). */
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  /** Replaces onnxruntime-web altogether (e.g. onnxruntime-node, or a stub in tests). */
  sessionFactory?: SessionFactory;
}

export function nodeSessionFactory(
  options: Pick<NodeSplitClientOptions, 'numThreads' | 'sessionOptions'> = {},
) {
  const factory = ortSessionFactory(ort, { executionProviders: ['wasm'], ...options.sessionOptions });
  const create = (model: Uint8Array) => {
    // env.wasm is read when ORT first initialises its WASM module, i.e. at the
    // first session; setting it here rather than at import leaves the global
    // untouched for code that never creates a client.
    if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
    else if (!ort.env.wasm.numThreads) ort.env.wasm.numThreads = 1;
    return factory(model);
  };
  return Object.assign(create, { heapBytes: factory.heapBytes });
}

export function createSplitClient(options: NodeSplitClientOptions): SplitClient {
  return createCoreClient({
    ...options,
    sessionFactory: options.sessionFactory ?? nodeSessionFactory(options),
  });
}

export interface NodeDynamicClientOptions extends Omit<DynamicClientOptions, 'sessionFactory'> {
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  sessionFactory?: SessionFactory;
}

/** Inference that picks per request where to run: on the device, or split at one of several builds' cuts. */
export function createDynamicClient(options: NodeDynamicClientOptions): DynamicClient {
  return createCoreDynamicClient({
    ...options,
    sessionFactory: options.sessionFactory ?? nodeSessionFactory(options),
  });
}

export interface NodeTrainerOptions extends Omit<CoreTrainerOptions, 'sessionFactory'> {
  numThreads?: number;
  sessionOptions?: OrtSessionOptions;
  /** Replaces onnxruntime-web altogether (e.g. onnxruntime-node). */
  sessionFactory?: SessionFactory;
}

/** The split federated trainer with the head graphs on onnxruntime-web's WASM backend. */
export function createTrainer(options: NodeTrainerOptions): Trainer {
  return createCoreTrainer({
    ...options,
    sessionFactory: options.sessionFactory ?? nodeSessionFactory(options),
  });
}
