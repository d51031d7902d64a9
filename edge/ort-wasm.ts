// onnxruntime-web inside workerd.
//
// workerd refuses to compile WebAssembly from bytes ("Wasm code generation
// disallowed by embedder"): the only way in is a `.wasm` file imported as a
// module, which arrives already compiled (wrangler rule: CompiledWasm).
// onnxruntime-web has no option that accepts a compiled module, so:
//  1. we hand it a placeholder `env.wasm.wasmBinary`; with a binary present it
//     neither fetches nor resolves a URL for the .wasm file;
//  2. its Emscripten glue then calls WebAssembly.instantiate(placeholderView,
//     imports); we intercept exactly that call (recognised by the placeholder's
//     buffer identity) and instantiate the precompiled module instead.
// Every other instantiate call passes through untouched. Threads stay at 1:
// there are no Web Workers in workerd.
//
// The same interception is where the isolate learns the size of onnxruntime's
// WebAssembly memory (memory.ts): the instance's Memory is in its imports or
// exports, and the heap's size is what counts against the isolate limit.
import * as ort from 'onnxruntime-web/wasm';
// wrangler's module collector resolves .wasm imports by relative path, not package exports.
import ortWasmModule from '../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm';
import { observeWasmMemory } from './memory.js';

let ready: Promise<typeof ort> | undefined;

/** Initialises ORT on first use; call inside a request (start-up has a 1 s budget). */
export function loadOrt(): Promise<typeof ort> {
  ready ??= init().catch((err) => {
    ready = undefined;
    throw err;
  });
  return ready;
}

async function init(): Promise<typeof ort> {
  const placeholder = new ArrayBuffer(8);
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  const patched = async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    const isPlaceholder = ArrayBuffer.isView(source) ? source.buffer === placeholder : source === placeholder;
    if (!isPlaceholder) return original(source, imports);
    const instance = await WebAssembly.instantiate(ortWasmModule, imports);
    observeWasmMemory(imports, instance.exports);
    return { instance, module: ortWasmModule };
  };
  (WebAssembly as { instantiate: unknown }).instantiate = patched;

  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = placeholder;
  ort.env.logLevel = 'error';
  // The backend initialises lazily: the first InferenceSession.create pays for it.
  return ort;
}
