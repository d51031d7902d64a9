// The trainer page, bundled by esbuild for the browser: the SDK's browser
// entry as an application would use it for federated fine-tuning. No ORT
// namespace is passed in, so browser.ts imports onnxruntime-web lazily when the
// round first loads the head graphs.
import { createTrainer, type TrainerEvents } from '../../../client-sdk/browser.js';
import type { TrainerPageApi, TrainOutcome, TrainRequest } from './api.js';
import { reportError } from './report.js';

async function runRound(request: TrainRequest): Promise<TrainOutcome> {
  const trainer = createTrainer({
    baseUrl: request.baseUrl,
    federationId: request.federationId,
    token: request.token,
    dataset: {
      pixels: Float32Array.from(request.pixels),
      labels: Int32Array.from(request.labels),
      size: request.labels.length,
    },
    seed: request.seed,
    wasmPaths: request.wasmPaths,
    // Threads need a cross-origin isolated page; asking for one keeps ORT from
    // probing for SharedArrayBuffer and warning.
    numThreads: 1,
  });
  const steps: TrainerEvents['step'][] = [];
  let ticket: TrainerEvents['joined']['ticket'] | undefined;
  trainer.on('step', (e) => steps.push(e));
  trainer.on('joined', (e) => {
    ticket = e.ticket;
  });
  try {
    if (request.calibrate) await trainer.calibrate(request.calibrate);
    const result = await trainer.runRound();
    return { ok: true, result, steps, ...(ticket ? { ticket } : {}) };
  } catch (e) {
    return { ok: false, error: reportError(e), steps };
  } finally {
    await trainer.close();
  }
}

const api: TrainerPageApi = { runRound };
window.splitflareTrainer = api;
document.body.dataset.ready = 'true';
