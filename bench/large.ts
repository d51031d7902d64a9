// The `large` figures of `npm run bench`: ViT-B/16 (seeded weights, int4
// frozen weights in the tail, sharded) on the local edge, with each shard in
// the isolate layout it has in production (its own Worker script), and the
// device's side of the same model.
//
// - peak memory of every isolate, from inside workerd (GET /v1/admin/memory:
//   onnxruntime's WebAssembly heap plus the bytes JavaScript holds), after
//   inference at batch 8 and after training steps at batch 4;
// - split inference time at batch 1 through the shards, alone and with
//   requests overlapping in the pipeline, against the unsharded fp32 tail on
//   onnxruntime-node (one thread), measured in the same run;
// - a training step at batch 4 through the HTTP API;
// - the device: its share of the parameters, and the peak memory and time of
//   one training step of the head (its forward and backward graphs) against
//   running the whole model on the device, as the FedAvg-LoRA baseline's
//   device does (LoRA on the same blocks, the same int4 frozen weights), each
//   in a fresh process on onnxruntime-web.
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { gaussian, mulberry32 } from '../common/random.js';
import { differentiate } from '../models/autodiff/index.js';
import { injectLora } from '../models/lora/index.js';
import { encodeModel, graphOf, loadModel, shapeOf } from '../models/onnx/index.js';
import { arrangeForFusion, quantizeWeights } from '../models/quantize/index.js';
import { splitModel } from '../models/split/splitter.js';
import { resolveRecipe, STRUCTURAL_RECIPE } from '../models/training/index.js';
import { localAdminKey } from '../operator/admin-key.js';
import { adminClient } from '../operator/client.js';
import { type JoinAnswer, SESSION_PASS_HEADER } from '../protocol/federation.js';
import { encodeFrame } from '../protocol/frame.js';
import { FRAME_CONTENT_TYPE, STEP_CONTENT_TYPE } from '../protocol/media.js';
import { encodeStepRequest } from '../protocol/step.js';
import { buildLargeModel } from '../scripts/large/build.js';
import { quantile, round } from '../scripts/lib/stats.js';
import { startLocalWorker } from '../scripts/wrangler-dev.js';
import { measureInFreshProcess } from './shard-memory.js';
import type { ChildSession } from './shard-memory-child.js';

const MB = 2 ** 20;
const SCRATCH = fileURLToPath(new URL('../artifacts/bench-large/', import.meta.url));

interface IsolateMemory {
  wasmBytes: number;
  jsBytes: number;
  peak: { wasmBytes: number; jsBytes: number; totalBytes: number };
}

export interface LargeFigures {
  shards: number;
  /** Peak (MB, onnxruntime's heap + JavaScript's bytes) of each shard isolate, then the main Worker's. */
  peak_mb_by_isolate: number[];
  peak_mb_max: number;
  peak_mb_max_inference_b8: number;
  peak_mb_main: number;
  infer_ms_b1: number;
  infer_latency_ms_b1: number;
  native_ms_b1: number;
  workerd_vs_native: number;
  /** The same int4 tail, unsharded, on onnxruntime-web WASM in Node: the kernels' share of the gap. */
  wasm_unsharded_ms_b1: number;
  wasm_vs_native: number;
  step_ms_b4: number;
  device_param_share: number;
  device_step_peak_mb: number;
  device_step_ms: number;
  whole_model_step_peak_mb: number;
  whole_model_step_ms: number;
}

const mb = (bytes: number) => round(bytes / MB, 1);

/** Inputs of a graph for the measuring child: `batched` names get the batch axis. */
function childInputs(
  file: string,
  model: Parameters<typeof graphOf>[0],
  batched: ReadonlySet<string>,
): ChildSession {
  const inputs = (graphOf(model).input ?? []).map((i) => {
    const name = i.name ?? '';
    const dims = shapeOf(i);
    const int64 = i.type?.tensorType?.elemType === 7;
    if (batched.has(name))
      return {
        name,
        dims: dims.slice(1) as number[],
        batched: true,
        dtype: int64 ? ('int64' as const) : undefined,
      };
    return { name, dims: dims as number[], batched: false };
  });
  return { file, inputs };
}

const median = (xs: readonly number[]) => quantile(xs, 0.5);

/** Peak of a fresh process running these graphs: onnxruntime's heap plus the graph bytes JavaScript read in. */
async function deviceStep(files: ChildSession[], batch: number) {
  const r = await measureInFreshProcess({ sessions: files, batch, runs: 2 });
  const perRun = r.runMs.map((t) => t.reduce((a, b) => a + b, 0));
  const graphBytes = files.reduce((a, f) => a + statSync(f.file).size, 0);
  return { peakMb: mb(r.heapPeak + graphBytes), ms: Math.round(Math.min(...perRun.slice(1))) };
}

export async function benchLarge(log: (s: string) => void): Promise<LargeFigures> {
  const build = await buildLargeModel({ source: { kind: 'builder' }, bits: [4], log });
  const variant = build.variants[0];
  const manifest = variant.manifest;
  const id = variant.modelId;
  const normal = gaussian(mulberry32(11));
  const cut = manifest.cut.tensor.shape.slice(1) as number[];
  const activation = (b: number) => {
    const shape = [b, ...cut];
    return { shape, data: Float32Array.from({ length: shape.reduce((a, x) => a * x, 1) }, () => normal()) };
  };

  // Native baseline: the unsharded fp32 tail, one thread.
  log('native: the unsharded fp32 tail on onnxruntime-node, one thread...');
  const full = await loadModel(build.reference);
  const { tail } = await splitModel(full, { kind: 'embed' });
  const tailNames = new Set((graphOf(tail).initializer ?? []).map((t) => t.name ?? ''));
  const native = await ortNode.InferenceSession.create(encodeModel(tail), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const one = activation(1);
  const nativeFeeds = { [manifest.cut.tensor.name]: new ortNode.Tensor('float32', one.data, one.shape) };
  for (let i = 0; i < 2; i++) await native.run(nativeFeeds);
  const nativeMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await native.run(nativeFeeds);
    nativeMs.push(performance.now() - t);
  }
  await native.release();

  // The WASM kernels alone: the int4 LoRA tail, unsharded, on onnxruntime-web in this process.
  log('wasm: the unsharded int4 tail on onnxruntime-web, one thread...');
  const chosenTail = resolveRecipe(full, STRUCTURAL_RECIPE);
  const adaptedTail = injectLora(tail, {
    targets: chosenTail.targets.filter((n) => tailNames.has(n)),
    full: chosenTail.full.filter((n) => tailNames.has(n)),
    rank: 8,
    alpha: 16,
    seed: 0,
  });
  const wasmTail = quantizeWeights(adaptedTail.model, { bits: 4, blockSize: 32 }).model;
  ortWeb.env.wasm.numThreads = 1;
  const wasm = await ortWeb.InferenceSession.create(encodeModel(wasmTail), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const wasmFeeds: Record<string, ortWeb.Tensor> = {
    [manifest.cut.tensor.name]: new ortWeb.Tensor('float32', one.data, one.shape),
  };
  for (const a of adaptedTail.adapters) {
    wasmFeeds[a.name] = new ortWeb.Tensor('float32', adaptedTail.initial[a.name].data, a.shape);
  }
  await wasm.run(wasmFeeds);
  const wasmMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    await wasm.run(wasmFeeds);
    wasmMs.push(performance.now() - t1);
  }
  await wasm.release();

  // The device: head training step (forward + backward graphs), and the whole model's training graph.
  log('device: head training step and whole-model training step, batch 4, each in a fresh process...');
  await mkdir(SCRATCH, { recursive: true });
  const t = manifest.training!;
  const headForward = await loadModel(join(variant.dir, t.artifacts.headForward.file));
  const headBackward = await loadModel(join(variant.dir, t.artifacts.headBackward!.file));
  const device = await deviceStep(
    [
      childInputs(
        join(variant.dir, t.artifacts.headForward.file),
        headForward,
        new Set([manifest.input.name]),
      ),
      childInputs(
        join(variant.dir, t.artifacts.headBackward!.file),
        headBackward,
        new Set([manifest.input.name, t.cutGradInput]),
      ),
    ],
    4,
  );
  const chosen = resolveRecipe(full, STRUCTURAL_RECIPE);
  const adapted = injectLora(full, { ...chosen, rank: 8, alpha: 16, seed: 0 });
  const quantized = quantizeWeights(adapted.model, { bits: 4, blockSize: 32 }).model;
  const whole = differentiate(quantized, { wrt: adapted.adapters.map((a) => a.name), loss: 'cross-entropy' });
  arrangeForFusion(whole);
  const wholeFile = join(SCRATCH, 'whole_train_int4.onnx');
  await writeFile(wholeFile, encodeModel(whole));
  const wholeStep = await deviceStep(
    [childInputs(wholeFile, whole, new Set([manifest.input.name, 'labels']))],
    4,
  );

  log(`workerd: ${id} through ${manifest.pipeline.shards.length} shard scripts...`);
  const worker = await startLocalWorker({ publish: [id], timeoutMs: 300_000 });
  const key = await localAdminKey();
  const memory = async () =>
    (await (
      await fetch(`${worker.url}/v1/admin/memory`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      main: IsolateMemory;
      shards: IsolateMemory[];
    };
  try {
    const infer = async (b: number) => {
      const res = await fetch(`${worker.url}/v1/models/${id}/infer`, {
        method: 'POST',
        body: encodeFrame(activation(b), { encoding: 'fp32' }),
        headers: { 'content-type': FRAME_CONTENT_TYPE },
      });
      if (!res.ok) throw new Error(`infer: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    await infer(1); // loads every shard's forward session
    const latency: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await infer(1);
      latency.push(performance.now() - t0);
    }
    // Requests overlapping in the pipeline: as many in flight as there are shards.
    const inFlight = manifest.pipeline.shards.length;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight * 2 }, () => infer(1)));
    const pipelined = (performance.now() - t0) / (inFlight * 2);
    await infer(8);
    const afterInference = await memory();

    const admin = adminClient(worker.url, key);
    const fid = `bench-${Date.now().toString(36)}`;
    await admin.create(fid, {
      modelId: id,
      rounds: 1,
      clientsPerRound: 1,
      quorum: 1,
      roundDeadlineSeconds: 3600,
      localEpochs: 1,
      batchSize: 4,
      uplink: 'fp32',
      downlink: 'fp32',
      budgetBytesPerRound: 1_000_000_000,
      headOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
      tailOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
      seed: 1,
    });
    const { token } = await admin.enroll(fid, 'bench-device');
    await admin.start(fid);
    const auth = { authorization: `Bearer ${token}` };
    const joined = await fetch(`${worker.url}/v1/federations/${fid}/join`, { method: 'POST', headers: auth });
    if (!joined.ok) throw new Error(`join: ${joined.status} ${await joined.text()}`);
    const { round: r, sessionPass } = (await joined.json()) as JoinAnswer;
    const roundAuth = { ...auth, [SESSION_PASS_HEADER]: sessionPass };
    const stepMs: number[] = [];
    for (let seq = 0; seq < 3; seq++) {
      const body = encodeStepRequest({
        activation: encodeFrame(activation(4), { encoding: 'fp32' }),
        labels: [1, 2, 3, 4],
      });
      const t1 = performance.now();
      const res = await fetch(`${worker.url}/v1/federations/${fid}/rounds/${r}/steps/${seq}`, {
        method: 'POST',
        body,
        headers: { 'content-type': STEP_CONTENT_TYPE, ...roundAuth },
      });
      if (!res.ok) throw new Error(`step ${seq}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      if (seq > 0) stepMs.push(performance.now() - t1); // step 0 loads the backward sessions
    }
    const afterTraining = await memory();
    await admin.close(fid);

    const peak = (m: { shards: IsolateMemory[] }) => Math.max(...m.shards.map((s) => s.peak.totalBytes));
    const head = build.parameters.head;
    const nativeB1 = median(nativeMs);
    const inferB1 = pipelined;
    const wasmB1 = median(wasmMs);
    return {
      shards: manifest.pipeline.shards.length,
      peak_mb_by_isolate: [
        ...afterTraining.shards.slice(0, manifest.pipeline.shards.length),
        afterTraining.main,
      ].map((m) => mb(m.peak.totalBytes)),
      peak_mb_max: mb(Math.max(peak(afterTraining), afterTraining.main.peak.totalBytes)),
      peak_mb_max_inference_b8: mb(peak(afterInference)),
      peak_mb_main: mb(afterTraining.main.peak.totalBytes),
      infer_ms_b1: round(inferB1, 1),
      infer_latency_ms_b1: round(median(latency), 1),
      native_ms_b1: round(nativeB1, 1),
      workerd_vs_native: round(inferB1 / nativeB1, 3),
      wasm_unsharded_ms_b1: round(wasmB1, 1),
      wasm_vs_native: round(wasmB1 / nativeB1, 3),
      step_ms_b4: round(median(stepMs), 0),
      device_param_share: round(head / build.parameters.total, 5),
      device_step_peak_mb: device.peakMb,
      device_step_ms: device.ms,
      whole_model_step_peak_mb: wholeStep.peakMb,
      whole_model_step_ms: wholeStep.ms,
    };
  } finally {
    await worker.stop();
  }
}
