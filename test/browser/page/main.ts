// The page's script, bundled by esbuild for the browser. It uses the SDK's
// browser entry exactly as an application would: no ORT namespace passed in,
// so browser.ts imports onnxruntime-web lazily on the first infer().
import { createSplitClient, ProblemError, SplitflareError } from '../../../client-sdk/browser.js';
import type { ErrorReport, InferOutcome, InferRequest, PageApi } from './api.js';

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
    return { ok: false, error: report(e) };
  } finally {
    await client.close();
  }
}

function report(e: unknown): ErrorReport {
  const base: ErrorReport = {
    name: e instanceof Error ? e.name : typeof e,
    message: e instanceof Error ? e.message : String(e),
    isSplitflareError: e instanceof SplitflareError,
    isProblemError: e instanceof ProblemError,
  };
  if (e instanceof SplitflareError) base.code = e.code;
  if (e instanceof ProblemError) {
    base.slug = e.slug;
    base.status = e.status;
  }
  return base;
}

const api: PageApi = { infer };
window.splitflare = api;
document.body.dataset.ready = 'true';
