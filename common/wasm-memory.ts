// A WebAssembly instance's memory, from its imports (builds with threads
// import a shared one) or its exports. onnxruntime-web keeps its instance to
// itself, so both the edge's loader (edge/memory.ts) and the SDK's heap watch
// (client-sdk/runtime/heap.ts) look where it is instantiated.

/** The first WebAssembly.Memory in these namespaces, at most two levels down (`imports.env.memory`). */
export function findWasmMemory(...namespaces: unknown[]): WebAssembly.Memory | undefined {
  const search = (value: unknown, depth: number): WebAssembly.Memory | undefined => {
    if (value instanceof WebAssembly.Memory) return value;
    if (depth === 0 || value === null || typeof value !== 'object') return undefined;
    for (const v of Object.values(value)) {
      const found = search(v, depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  for (const ns of namespaces) {
    const found = search(ns, 2);
    if (found) return found;
  }
  return undefined;
}
