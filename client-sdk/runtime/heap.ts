// The device's onnxruntime heap, for the profile's head peak memory.
//
// onnxruntime-web keeps its WebAssembly instance private. It compiles its
// module when its first session is created, so the SDK watches
// WebAssembly.instantiate and instantiateStreaming for exactly that long and
// keeps the memory it finds (common/wasm-memory.ts). A WebAssembly heap only
// grows, so its size after a head step bounds that step's peak from above.
// Where ORT had started before (the page made sessions of its own) or is not
// WebAssembly (onnxruntime-node), nothing is seen and nothing is reported.
import { findWasmMemory } from '../../common/wasm-memory.js';

type Instantiate = (...args: unknown[]) => Promise<unknown>;

export class WasmHeapWatch {
  #memory: WebAssembly.Memory | undefined;

  /** Runs `init` (what makes ORT instantiate its module) with the watch on. */
  async during<T>(init: () => Promise<T>): Promise<T> {
    const wasm = WebAssembly as unknown as Record<
      'instantiate' | 'instantiateStreaming',
      Instantiate | undefined
    >;
    let active = true;
    const watch = (original: Instantiate | undefined) =>
      original &&
      (async (...args: unknown[]) => {
        const result = await original.apply(WebAssembly, args);
        if (active) {
          const instance =
            result instanceof WebAssembly.Instance ? result : (result as { instance?: unknown }).instance;
          this.#memory ??= findWasmMemory(args[1], (instance as WebAssembly.Instance | undefined)?.exports);
        }
        return result;
      });
    const originals = { instantiate: wasm.instantiate, instantiateStreaming: wasm.instantiateStreaming };
    const patched = {
      instantiate: watch(originals.instantiate),
      instantiateStreaming: watch(originals.instantiateStreaming),
    };
    Object.assign(wasm, patched);
    try {
      return await init();
    } finally {
      active = false;
      // Put back only what is still ours: code that patched over us keeps its wrapper (ours then passes through).
      for (const key of ['instantiate', 'instantiateStreaming'] as const)
        if (wasm[key] === patched[key]) wasm[key] = originals[key];
    }
  }

  /** The heap's size now (bytes), or undefined when no heap was seen. */
  bytes(): number | undefined {
    return this.#memory?.buffer.byteLength;
  }
}
