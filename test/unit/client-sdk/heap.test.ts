// The SDK's view of onnxruntime's WebAssembly heap: caught while ORT
// instantiates its module at the first session, on the real onnxruntime-web.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { nodeSessionFactory } from '../../../client-sdk/node.js';
import { WasmHeapWatch } from '../../../client-sdk/runtime/heap.js';

/** A module that exports a one-page memory: (module (memory (export "m") 1)). */
const ONE_PAGE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x05, 0x01, 0x01, 0x6d,
  0x02, 0x00,
]);

describe('WasmHeapWatch', () => {
  it('keeps the memory of what is instantiated while it watches, and puts WebAssembly back', async () => {
    const original = WebAssembly.instantiate;
    const watch = new WasmHeapWatch();
    expect(watch.bytes()).toBeUndefined();
    const { instance } = await watch.during(() => WebAssembly.instantiate(ONE_PAGE));
    expect(watch.bytes()).toBe(65536);
    expect(WebAssembly.instantiate).toBe(original);
    // Growth shows; a module instantiated afterwards is not taken for it.
    (instance.exports.m as WebAssembly.Memory).grow(1);
    const later = await WebAssembly.instantiate(ONE_PAGE);
    (later.instance.exports.m as WebAssembly.Memory).grow(5);
    expect(watch.bytes()).toBe(2 * 65536);
  });

  it('puts WebAssembly back when what it watched fails', async () => {
    const original = WebAssembly.instantiate;
    const watch = new WasmHeapWatch();
    await expect(watch.during(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(WebAssembly.instantiate).toBe(original);
    expect(watch.bytes()).toBeUndefined();
  });

  it('sees onnxruntime-web’s heap through the Node session factory, and it grows with a larger batch', async () => {
    const factory = nodeSessionFactory();
    const session = await factory(new Uint8Array(await readFile('artifacts/vit-mnist/head.onnx')));
    const before = factory.heapBytes?.();
    expect(before).toBeGreaterThan(0);
    const [input] = session.inputNames;
    for (const batch of [1, 4096]) {
      await session.run({ [input]: { data: new Float32Array(batch * 784), dims: [batch, 1, 28, 28] } });
    }
    expect(factory.heapBytes!()).toBeGreaterThan(before!);
    // Another factory over the same onnxruntime shares its heap, and sees it too.
    expect(nodeSessionFactory().heapBytes!()).toBe(factory.heapBytes!());
    await session.release();
  });
});
