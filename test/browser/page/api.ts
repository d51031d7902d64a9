// The contract between the tests (Node, driving Chromium) and the pages: a
// page installs its API on window (`splitflare` for inference,
// `splitflareTrainer` for federated training), the test calls it through
// page.evaluate. Only structured-clonable data crosses, so errors come back as
// plain reports and the `instanceof` checks happen in the browser, where the
// SDK's classes live.
import type {
  InferStats,
  RoundReport,
  Skipped,
  TrainerEvents,
  WireSettings,
} from '../../../client-sdk/browser.js';

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

export interface TrainRequest {
  baseUrl: string;
  federationId: string;
  /** The device token from enrollment. */
  token: string;
  /** size × 1 × 28 × 28, normalized; plain arrays for the same reason as InferRequest.pixels. */
  pixels: number[];
  labels: number[];
  seed: number;
  wasmPaths: string;
  /** Time the head at this model's cut first (Trainer.calibrate), so that the join carries a profile. */
  calibrate?: string;
}

export type TrainOutcome =
  | {
      ok: true;
      result: RoundReport | Skipped;
      /** The ticket from the `joined` event; absent when the device was not let in. */
      ticket?: TrainerEvents['joined']['ticket'];
      /** Every `step` event, in order. */
      steps: TrainerEvents['step'][];
    }
  | { ok: false; error: ErrorReport; steps: TrainerEvents['step'][] };

export interface TrainerPageApi {
  /** One federated round with the SDK's browser trainer: join, local steps, submit. */
  runRound(request: TrainRequest): Promise<TrainOutcome>;
}

declare global {
  interface Window {
    splitflare?: PageApi;
    splitflareTrainer?: TrainerPageApi;
  }
}
