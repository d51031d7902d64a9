// Tail forward time: onnxruntime-web WASM inside workerd over onnxruntime-node
// (native, one thread) on the same artifact and batch.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { gaussian, mulberry32 } from '../common/random.js';
import { encodeFrame } from '../protocol/frame.js';
import { Manifest } from '../protocol/manifest.js';
import { FRAME_CONTENT_TYPE } from '../protocol/media.js';
import { round } from '../scripts/lib/stats.js';
import { startLocalWorker } from '../scripts/wrangler-dev.js';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

export interface TailFigures {
  model: string;
  batch: number;
  workerd_wasm_ms: number;
  node_native_ms: number;
  wasm_workerd_vs_node_native: number;
}

export async function benchTail(modelId = 'vit-mnist', batch = 32, repeats = 40): Promise<TailFigures> {
  const manifest = Manifest.parse(JSON.parse(readFileSync(`${ARTIFACTS}${modelId}/manifest.json`, 'utf8')));
  const shape = [batch, ...(manifest.cut.tensor.shape.slice(1) as number[])];
  const normal = gaussian(mulberry32(3));
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => normal());

  const session = await ortNode.InferenceSession.create(`${ARTIFACTS}${modelId}/tail.onnx`, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feeds = { [manifest.cut.tensor.name]: new ortNode.Tensor('float32', data, shape) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const nativeMs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) await session.run(feeds);
    nativeMs.push((performance.now() - t0) / repeats);
  }
  await session.release();

  const worker = await startLocalWorker({
    config: fileURLToPath(new URL('./wrangler.toml', import.meta.url)),
    readyPath: '/',
  });
  try {
    const loaded = await fetch(`${worker.url}/load`, {
      method: 'POST',
      body: readFileSync(`${ARTIFACTS}${modelId}/tail.onnx`),
    });
    if (!loaded.ok) throw new Error(`probe worker: ${loaded.status} ${await loaded.text()}`);
    const body = encodeFrame({ shape, data }, { encoding: 'fp32' });
    const post = async (k: number) => {
      const t0 = performance.now();
      const res = await fetch(`${worker.url}/run?repeats=${k}`, {
        method: 'POST',
        body,
        headers: { 'content-type': FRAME_CONTENT_TYPE },
      });
      if (!res.ok) throw new Error(`probe worker: ${res.status} ${await res.text()}`);
      await res.json();
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await post(3);
    const wasmMs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const one = await post(1);
      const many = await post(1 + repeats);
      wasmMs.push((many - one) / repeats);
    }
    const wasm = Math.min(...wasmMs);
    const native = Math.min(...nativeMs);
    return {
      model: modelId,
      batch,
      workerd_wasm_ms: round(wasm, 3),
      node_native_ms: round(native, 3),
      wasm_workerd_vs_node_native: round(wasm / native, 3),
    };
  } finally {
    await worker.stop();
  }
}
