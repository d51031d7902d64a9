// The page's script, bundled by esbuild for the browser. It uses the SDK's
// browser entry exactly as an application would: no ORT namespace passed in,
// so browser.ts imports onnxruntime-web lazily on the first infer().
import { createSplitClient } from '../../../client-sdk/browser.js';
import type { InferOutcome, InferRequest, PageApi } from './api.js';
import { reportError } from './report.js';

async function infer(request: InferRequest): Promise<InferOutcome> {
  const client = createSplitClient({
    baseUrl: request.baseUrl,
    modelId: request.modelId,
    encoding: request.encoding,
    wasmPaths: request.wasmPaths,
    // Threads need a cross-origin isolated page; asking for one keeps ORT from
    // probing for SharedArrayBuffer and warning.
    numThreads: 1,
    // An error here must surface at once, not after the backoff of retries.
    retries: 0,
  });
  try {
    const result = await client.infer({ pixels: Float32Array.from(request.pixels), batch: request.batch });
    return {
      ok: true,
      top1: result.predictions.map((row) => row[0]?.index ?? -1),
      stats: result.stats,
    };
  } catch (e) {
    return { ok: false, error: reportError(e) };
  } finally {
    await client.close();
  }
}

const api: PageApi = { infer };
window.splitflare = api;
document.body.dataset.ready = 'true';
