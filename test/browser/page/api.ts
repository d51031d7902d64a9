// The contract between the test (Node, driving Chromium) and the page: the page
// installs `window.splitflare`, the test calls it through page.evaluate. Only
// structured-clonable data crosses, so errors come back as plain reports and
// the `instanceof` checks happen in the browser, where the SDK's classes live.
import type { InferStats, WireSettings } from '../../../client-sdk/browser.js';

export interface InferRequest {
  baseUrl: string;
  modelId: string;
  encoding: NonNullable<WireSettings['encoding']>;
  /** batch × 1 × 28 × 28, normalized; a plain array because typed arrays do not survive page.evaluate. */
  pixels: number[];
  batch: number;
  /** Where onnxruntime-web fetches its .wasm/.mjs files. */
  wasmPaths: string;
}

export interface ErrorReport {
  name: string;
  message: string;
  isSplitflareError: boolean;
  isProblemError: boolean;
  code?: string;
  slug?: string;
  status?: number;
}

export type InferOutcome =
  | { ok: true; top1: number[]; stats: InferStats }
  | { ok: false; error: ErrorReport };

export interface PageApi {
  infer(request: InferRequest): Promise<InferOutcome>;
}

declare global {
  interface Window {
    splitflare?: PageApi;
  }
}
