// The core runs on any SessionFactory and pulls in neither onnxruntime nor
// Node-only APIs, so it can ship to browsers and workerd unchanged.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserSessionFactory, type WasmPaths } from '../../../client-sdk/browser.js';
import { createSplitClient, type SessionFactory } from '../../../client-sdk/core.js';
import { type OrtLike, ortSessionFactory } from '../../../client-sdk/runtime/ort.js';
import { fakeTailServer } from './fixtures/fake-tail.js';
import { CLASSES, expectedActivation, MODEL_ID, randomPixels } from './fixtures/head-model.js';
import { startServer } from './fixtures/http-server.js';

const sdkRoot = join(import.meta.dirname, '../../../client-sdk');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('client-sdk core', () => {
  it('uses no Node-only API and no static onnxruntime import outside node.ts', () => {
    for (const file of sources(sdkRoot)) {
      const rel = relative(sdkRoot, file);
      if (rel === 'node.ts') continue;
      const text = readFileSync(file, 'utf8');
      expect(text, rel).not.toMatch(/from '(node:|fs|path|crypto|buffer)/);
      expect(text, rel).not.toMatch(/\bBuffer\b|\bprocess\./);
      expect(text, rel).not.toMatch(/^import [^t].*'onnxruntime/m);
    }
  });

  it('runs on an injected session factory', async () => {
    const server = await startServer(fakeTailServer());
    const seen: Uint8Array[] = [];
    // A stand-in runtime computing the same MatMul as the real head.
    const sessionFactory: SessionFactory = async (model) => {
      seen.push(model);
      return {
        inputNames: ['pixels'],
        outputNames: ['embed'],
        async run(feeds) {
          const batch = feeds.pixels.dims[0];
          return { embed: { data: expectedActivation(feeds.pixels.data, batch), dims: [batch, 1, 4, 8] } };
        },
        async release() {},
      };
    };
    try {
      const c = createSplitClient({
        baseUrl: server.baseUrl,
        modelId: MODEL_ID,
        encoding: 'fp16',
        sessionFactory,
      });
      const result = await c.infer({ pixels: randomPixels(2), batch: 2 });
      expect(result.shape).toEqual([2, CLASSES]);
      expect(seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('browserSessionFactory applies wasmPaths and numThreads to the ort it is given', async () => {
    const created: unknown[] = [];
    const env = { wasm: {} as { numThreads?: number; wasmPaths?: WasmPaths } };
    const fakeOrt = {
      env,
      Tensor: class {
        constructor(
          readonly type: string,
          readonly data: Float32Array,
          readonly dims: readonly number[],
        ) {}
      },
      InferenceSession: {
        async create(model: Uint8Array, options: unknown) {
          created.push({ model, options });
          return { inputNames: ['x'], outputNames: ['y'], run: async () => ({}), release: async () => {} };
        },
      },
    } satisfies OrtLike;
    const factory = browserSessionFactory({ ort: fakeOrt, wasmPaths: '/static/ort/', numThreads: 2 });
    const session = await factory(new Uint8Array([1]));
    expect(session.inputNames).toEqual(['x']);
    expect(env.wasm).toEqual({ wasmPaths: '/static/ort/', numThreads: 2 });
    expect(created).toHaveLength(1);
  });

  it('reports non-float outputs and load failures as RuntimeError', async () => {
    const ort = {
      env: { wasm: {} },
      Tensor: class {
        type = 'float32';
        dims: number[] = [];
        data: unknown = null;
      },
      InferenceSession: {
        async create(model: Uint8Array) {
          if (model.length === 0) throw new Error('bad model');
          return {
            inputNames: ['x'],
            outputNames: ['y'],
            run: async () => ({ y: { type: 'int64', data: new BigInt64Array(1), dims: [1] } }),
            release: async () => {},
          };
        },
      },
    } satisfies OrtLike;
    const factory = ortSessionFactory(ort);
    await expect(factory(new Uint8Array())).rejects.toMatchObject({ name: 'RuntimeError', code: 'runtime' });
    const session = await factory(new Uint8Array([1]));
    await expect(session.run({ x: { data: new Float32Array(1), dims: [1] } })).rejects.toThrow(/int64/);
  });
});
