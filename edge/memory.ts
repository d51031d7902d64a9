// What an isolate holds, measured from inside it. Local workerd does not
// enforce the 128 MB isolate limit, so the runtime keeps its own account:
// onnxruntime's WebAssembly memory (a heap that only grows, so its size is its
// peak), plus the bytes JavaScript holds for weights on their way into a
// session, adapters, optimizer state and activations kept between passes.
// Holders register their bytes under a key; every change samples the total
// and keeps the peak.

import { findWasmMemory } from '../common/wasm-memory.js';

let wasmMemory: WebAssembly.Memory | undefined;
const held = new Map<string, number>();
let peak = { wasmBytes: 0, jsBytes: 0, totalBytes: 0 };

/** Called by the onnxruntime loader with the instance's imports and exports. */
export function observeWasmMemory(...namespaces: unknown[]): void {
  wasmMemory = findWasmMemory(...namespaces) ?? wasmMemory;
  sample();
}

export function wasmHeapBytes(): number {
  return wasmMemory?.buffer.byteLength ?? 0;
}

export function heldBytes(): number {
  let total = 0;
  for (const b of held.values()) total += b;
  return total;
}

/** Records `bytes` held under `key` (replacing what the key held); 0 releases it. */
export function hold(key: string, bytes: number): void {
  if (bytes > 0) held.set(key, bytes);
  else held.delete(key);
  sample();
}

/** Updates the peak from the current state; cheap, call after anything that may grow memory. */
export function sample(): void {
  const wasmBytes = wasmHeapBytes();
  const jsBytes = heldBytes();
  peak = {
    wasmBytes: Math.max(peak.wasmBytes, wasmBytes),
    jsBytes: Math.max(peak.jsBytes, jsBytes),
    totalBytes: Math.max(peak.totalBytes, wasmBytes + jsBytes),
  };
}

export interface MemoryReport {
  /** onnxruntime's WebAssembly memory now (its high-water mark: it never shrinks). */
  wasmBytes: number;
  /** Bytes JavaScript holds for weights, adapters, optimizer state and kept activations now. */
  jsBytes: number;
  /** The largest WebAssembly size, JavaScript bytes and their sum seen in this isolate. */
  peak: { wasmBytes: number; jsBytes: number; totalBytes: number };
}

export function memoryReport(): MemoryReport {
  sample();
  return { wasmBytes: wasmHeapBytes(), jsBytes: heldBytes(), peak: { ...peak } };
}
