// Training-step cost of the generated gradient graphs: a step (backward graph
// + AdamW update) over a forward of the same model and batch on
// onnxruntime-node, and the same step on onnxruntime-web WASM over native.
// Everything single-threaded so the ratios compare kernels, not core counts.
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { adamw } from '../common/optim/index.js';
import { mulberry32 } from '../common/random.js';
import { differentiate, trainableParameters } from '../models/autodiff/index.js';
import { encodeModel, graphOf, initializerMap } from '../models/onnx/index.js';
import { buildVit, REFERENCE_VIT } from '../models/vit/index.js';
import { round } from '../scripts/lib/stats.js';

type Ort = typeof ortNode | typeof ortWeb;

export interface TrainFigures {
  batch: number;
  forward_ms: number;
  step_ms: number;
  wasm_step_ms: number;
  step_vs_forward: number;
  wasm_vs_native: number;
}

async function bestMs(fn: () => Promise<void>, inner: number, repeats = 5): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) await fn();
    best = Math.min(best, (performance.now() - t0) / inner);
  }
  return best;
}

export async function benchTrain(batch = 64): Promise<TrainFigures> {
  const model = buildVit(REFERENCE_VIT);
  const names = trainableParameters(model);
  const grad = differentiate(model, { wrt: names, loss: 'cross-entropy' });
  const inits = initializerMap(graphOf(model));
  const params = Object.fromEntries(names.map((n) => [n, (inits.get(n)!.data as Float32Array).slice()]));
  const random = mulberry32(9);
  const shape = [batch, REFERENCE_VIT.channels, REFERENCE_VIT.imageSize, REFERENCE_VIT.imageSize];
  const pixels = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() - 0.5);
  const labels = BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % REFERENCE_VIT.classes));

  const stepOn = async (ort: Ort, options: object) => {
    const session = await ort.InferenceSession.create(encodeModel(grad), options);
    const optimizer = adamw({ lr: 1e-4 });
    return async () => {
      const feeds: Record<string, InstanceType<Ort['Tensor']>> = {
        pixels: new ort.Tensor('float32', pixels, shape),
        labels: new ort.Tensor('int64', labels, [batch]),
      };
      for (const n of names) feeds[n] = new ort.Tensor('float32', params[n], inits.get(n)!.dims);
      const out = await (session as ortNode.InferenceSession).run(feeds as Record<string, ortNode.Tensor>);
      optimizer.step(
        params,
        Object.fromEntries(names.map((n) => [n, out[`grad.${n}`].data as Float32Array])),
      );
    };
  };

  const native = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const forward = await ortNode.InferenceSession.create(encodeModel(model), native);
  const forwardMs = await bestMs(async () => {
    await forward.run({ pixels: new ortNode.Tensor('float32', pixels, shape) });
  }, 10);
  const stepMs = await bestMs(await stepOn(ortNode, native), 10);
  ortWeb.env.wasm.numThreads = 1;
  const wasmStepMs = await bestMs(await stepOn(ortWeb, { executionProviders: ['wasm'] }), 5, 3);
  return {
    batch,
    forward_ms: round(forwardMs, 2),
    step_ms: round(stepMs, 2),
    wasm_step_ms: round(wasmStepMs, 2),
    step_vs_forward: round(stepMs / forwardMs, 3),
    wasm_vs_native: round(wasmStepMs / stepMs, 3),
  };
}
