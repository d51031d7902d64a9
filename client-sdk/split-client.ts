// The device side of split inference: download and verify the head, run it on
// the caller's pixels, send the quantized cut activation to the Worker, and
// rank the logits it returns. Runtime-neutral: the ONNX runtime comes in as a
// SessionFactory and the network as a fetch, so browsers, Node and tests share
// this code (see node.ts and browser.ts for the ready-made entry points).

import { type Prediction, topKPredictions } from '../common/predictions.js';
import { cryptoUniform } from '../common/random.js';
import { parseSafetensors } from '../common/safetensors.js';
import { decodeFrame, encodeFrame, FrameError } from '../protocol/frame.js';
import type { Manifest } from '../protocol/manifest.js';
import { FRAME_CONTENT_TYPE } from '../protocol/media.js';
import { addTokenNoise, MAX_TOKEN_NOISE } from '../protocol/token-noise.js';
import { endpoints } from './endpoints.js';
import { InputError, ManifestError, ProtocolError, RuntimeError } from './errors.js';
import { bindHead, type HeadModel } from './head-model.js';
import { verifyArtifact } from './integrity.js';
import { parseManifest, resolveWire } from './manifest-check.js';
import { type WarningSink, warnIfAffineUplink } from './privacy-warning.js';
import type { FloatTensor, SessionFactory } from './runtime/types.js';
import { concreteShape, numel, sameShape } from './shapes.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './transport/backoff.js';
import { type FetchLike, request } from './transport/http.js';
import { type Deadline, deadline, raceDeadline } from './transport/signals.js';
import type { WireSettings } from './wire-settings.js';

export interface SplitClientOptions extends WireSettings {
  /** Origin (and optional path prefix) of the Worker, e.g. https://splitflare.example.workers.dev */
  baseUrl: string;
  modelId: string;
  /** Default globalThis.fetch. */
  fetch?: FetchLike;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /**
   * Budget of each call (manifest(), infer()), retries and backoff included;
   * past it the call fails with TimeoutError. Default 30 s.
   */
  timeoutMs?: number;
  /** Retries of transient failures (network, 429, 502/503/504) per request. Default 3. */
  retries?: number;
  /** Fine-tuning of the backoff; mostly for tests. */
  retryPolicy?: Partial<Omit<RetryPolicy, 'retries'>>;
  /** Aborts every call of this client, current and future. */
  signal?: AbortSignal;
  /**
   * A federation's published version to infer with, `<federation id>@<n>` or
   * `@latest`: the head runs with the version's head trainables and the Worker
   * runs the tail with its tail adapters. Default: the model as published.
   */
  version?: string;
  /** Where warnings go (once per model per process: an uplink the server can invert). Default console.warn. */
  onWarning?: WarningSink;
  /**
   * σ of per-token Gaussian noise added to the activation before it is
   * quantized, as a share of each token's RMS (protocol/token-noise.ts): less
   * for the server to reconstruct, at a cost in accuracy. Default 0.
   */
  activationNoise?: number;
  /**
   * Where the model runs: split at the manifest's cut (the head here, the
   * tail at the edge), or all of it on this device (the manifest's unsplit
   * graph, nothing sent; the model as published, so no `version`).
   * Default 'split'. createDynamicClient chooses per request.
   */
  placement?: 'split' | 'device';
}

export interface CoreSplitClientOptions extends SplitClientOptions {
  sessionFactory: SessionFactory;
}

export interface InferInput {
  /** batch × the manifest's input shape, NCHW, preprocessed as manifest.preprocess says. */
  pixels: Float32Array;
  batch: number;
}

export interface InferOptions {
  signal?: AbortSignal;
  /** Predictions per example. Default 5. */
  topK?: number;
}

export interface InferStats {
  /** Request body bytes (the activation frame), per attempt. */
  bytesUp: number;
  /** Response body bytes (the logits frame). */
  bytesDown: number;
  headMs: number;
  encodeMs: number;
  /** From sending the frame to holding the decoded logits, retries included. */
  roundTripMs: number;
  /** HTTP attempts for the infer request. */
  attempts: number;
  /** The edge's own time for the request (its Server-Timing), when it said. */
  serverMs?: number;
}

export interface InferResult {
  logits: Float32Array;
  shape: number[];
  predictions: Prediction[][];
  stats: InferStats;
}

export interface SplitClient {
  manifest(options?: { signal?: AbortSignal }): Promise<Manifest>;
  infer(input: InferInput, options?: InferOptions): Promise<InferResult>;
  /** Releases the head session; the next infer() loads it again. */
  close(): Promise<void>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_TOP_K = 5;

export function createSplitClient(options: CoreSplitClientOptions): SplitClient {
  const urls = endpoints(options.baseUrl, options.modelId);
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...options.retryPolicy,
    retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (
    options.activationNoise !== undefined &&
    !(options.activationNoise >= 0 && options.activationNoise <= MAX_TOKEN_NOISE)
  ) {
    throw new InputError(`activationNoise must be in [0, ${MAX_TOKEN_NOISE}]`);
  }
  const placement = options.placement ?? 'split';
  if (placement === 'device' && options.version !== undefined) {
    throw new InputError('a version runs split: the unsplit graph on the device is the model as published');
  }
  const noiseSource = cryptoUniform();
  const wanted: WireSettings = {
    encoding: options.encoding,
    granularity: options.granularity,
    rounding: options.rounding,
  };
  const ctx = (dl: Deadline) => ({ fetch: fetchImpl, policy, deadline: dl });

  // Loads are shared by concurrent calls and run under the client's own
  // deadline, so one caller giving up does not fail the others; a failed load
  // is forgotten so the next call tries again.
  let manifestLoad: Promise<Manifest> | undefined;
  let headLoad: Promise<HeadModel> | undefined;

  const loadManifest = (): Promise<Manifest> => {
    manifestLoad ??= (async () => {
      const dl = deadline(timeoutMs, [options.signal]);
      const res = await request(
        urls.manifest,
        { headers: { accept: 'application/json', ...options.headers } },
        ctx(dl),
      );
      const manifest = parseManifest(res.body, options.modelId);
      warnIfAffineUplink(manifest, options.onWarning);
      return manifest;
    })();
    manifestLoad.catch(() => {
      manifestLoad = undefined;
    });
    return manifestLoad;
  };

  const download = async (url: string, dl: Deadline): Promise<Uint8Array<ArrayBuffer>> =>
    (await request(url, { headers: { accept: 'application/octet-stream', ...options.headers } }, ctx(dl)))
      .body;

  const loadHead = (): Promise<HeadModel> => {
    headLoad ??= (async () => {
      const manifest = await loadManifest();
      const dl = deadline(timeoutMs, [options.signal]);
      if (placement === 'device') {
        const full = manifest.artifacts.full;
        if (!full) throw new ManifestError(`${manifest.modelId} was published without its unsplit graph`);
        const bytes = await download(urls.full, dl);
        await verifyArtifact('full', bytes, full);
        dl.throwIfAborted();
        const session = await options.sessionFactory(bytes);
        return {
          session,
          inputName: session.inputNames.includes(manifest.input.name)
            ? manifest.input.name
            : session.inputNames[0],
          outputName: session.outputNames.includes(manifest.output.name)
            ? manifest.output.name
            : session.outputNames[0],
          constants: {},
        };
      }
      if (options.version === undefined) {
        const bytes = await download(urls.head, dl);
        await verifyArtifact('head', bytes, manifest.artifacts.head);
        dl.throwIfAborted();
        return bindHead(await options.sessionFactory(bytes), manifest);
      }
      // A version's head is the training forward graph run with the version's head trainables.
      const graph = manifest.training?.artifacts.headForward;
      if (!graph)
        throw new ManifestError(`${manifest.modelId} is not built for training, so it has no versions`);
      const bytes = await download(urls.training('headForward'), dl);
      await verifyArtifact('headForward', bytes, graph);
      const constants = headTrainables(manifest, await download(urls.versionHead(options.version), dl));
      dl.throwIfAborted();
      return bindHead(await options.sessionFactory(bytes), manifest, constants);
    })();
    headLoad.catch(() => {
      headLoad = undefined;
    });
    return headLoad;
  };

  return {
    async manifest(callOptions = {}) {
      const dl = deadline(timeoutMs, [options.signal, callOptions.signal]);
      return raceDeadline(loadManifest(), dl);
    },

    async infer(input, inferOptions = {}) {
      const dl = deadline(timeoutMs, [options.signal, inferOptions.signal]);
      const manifest = await raceDeadline(loadManifest(), dl);
      const wire = resolveWire(manifest, wanted);
      const inputShape = checkInput(manifest, input);
      const head = await raceDeadline(loadHead(), dl);

      const headStart = performance.now();
      const outputs = await head.session.run({
        ...head.constants,
        [head.inputName]: { data: input.pixels, dims: inputShape },
      });
      const headMs = performance.now() - headStart;
      if (placement === 'device') {
        const out = outputs[head.outputName];
        const shape = [input.batch, out.data.length / input.batch];
        return {
          logits: out.data,
          shape,
          predictions: topKPredictions(out.data, shape, inferOptions.topK ?? DEFAULT_TOP_K, manifest.labels),
          stats: { bytesUp: 0, bytesDown: 0, headMs, encodeMs: 0, roundTripMs: 0, attempts: 0 },
        };
      }
      const activation = outputs[head.outputName];
      const cutShape = concreteShape(manifest.cut.tensor, input.batch);
      if (!activation || !sameShape(activation.dims, cutShape)) {
        throw new ManifestError(
          `the head produced [${activation?.dims ?? ''}], the manifest's cut is [${cutShape}]`,
        );
      }
      dl.throwIfAborted();

      const encodeStart = performance.now();
      let sent = activation.data;
      if (options.activationNoise) {
        sent = sent.slice();
        addTokenNoise(sent, cutShape[cutShape.length - 1], options.activationNoise, noiseSource);
      }
      const frame = encodeActivation(sent, cutShape, wire);
      const encodeMs = performance.now() - encodeStart;

      const sendStart = performance.now();
      const res = await request(
        options.version === undefined
          ? urls.infer
          : `${urls.infer}?version=${encodeURIComponent(options.version)}`,
        {
          method: 'POST',
          headers: { 'content-type': FRAME_CONTENT_TYPE, accept: FRAME_CONTENT_TYPE, ...options.headers },
          body: frame,
        },
        ctx(dl),
      );
      const { logits, shape } = decodeLogits(res.body, res.headers, manifest, input.batch);
      const roundTripMs = performance.now() - sendStart;

      return {
        logits,
        shape,
        predictions: topKPredictions(logits, shape, inferOptions.topK ?? DEFAULT_TOP_K, manifest.labels),
        stats: {
          bytesUp: frame.byteLength,
          bytesDown: res.body.byteLength,
          headMs,
          encodeMs,
          roundTripMs,
          attempts: res.attempts,
          ...serverTiming(res.headers),
        },
      };
    },

    async close() {
      const pending = headLoad;
      headLoad = undefined;
      if (!pending) return;
      const head = await pending.catch(() => undefined);
      await head?.session.release();
    },
  };
}

/** The head trainables of a version (safetensors), checked against the manifest's head-side trainables. */
function headTrainables(manifest: Manifest, file: Uint8Array): Record<string, FloatTensor> {
  let tensors: ReturnType<typeof parseSafetensors>;
  try {
    tensors = parseSafetensors(file);
  } catch (e) {
    throw new ProtocolError(`the version's head trainables are unreadable: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const out: Record<string, FloatTensor> = {};
  for (const spec of manifest.training?.trainables.filter((t) => t.owner === 'head') ?? []) {
    const t = tensors.get(spec.name);
    if (t?.dtype !== 'float32' || !sameShape(t.dims, spec.shape)) {
      throw new ProtocolError(`the version's head trainables lack float32 ${spec.name} [${spec.shape}]`);
    }
    out[spec.name] = { data: t.data, dims: t.dims };
  }
  return out;
}

/** The edge's `edge;dur=` of a Server-Timing header, when present and sane. */
function serverTiming(headers: Headers): { serverMs?: number } {
  const m = /(?:^|,)\s*edge;dur=([0-9.]+)/.exec(headers.get('server-timing') ?? '');
  const ms = m ? Number(m[1]) : Number.NaN;
  return Number.isFinite(ms) && ms >= 0 ? { serverMs: ms } : {};
}

/** Validates the batch against the manifest; returns the concrete input shape. */
function checkInput(manifest: Manifest, input: InferInput): number[] {
  const { batch, pixels } = input;
  if (!Number.isInteger(batch) || batch < 1)
    throw new InputError(`batch ${batch} must be a positive integer`);
  if (batch > manifest.wire.maxBatch) {
    throw new InputError(`batch ${batch} exceeds the model's maximum of ${manifest.wire.maxBatch}`);
  }
  if (!(pixels instanceof Float32Array)) throw new InputError('pixels must be a Float32Array');
  const shape = concreteShape(manifest.input, batch);
  if (pixels.length !== numel(shape)) {
    throw new InputError(`pixels hold ${pixels.length} values; input [${shape}] needs ${numel(shape)}`);
  }
  for (let i = 0; i < pixels.length; i++) {
    // v - v is NaN exactly for NaN and ±Infinity.
    if (pixels[i] - pixels[i] !== 0) throw new InputError(`pixel ${i} is ${pixels[i]}`);
  }
  return shape;
}

function encodeActivation(
  data: Float32Array,
  shape: number[],
  wire: Required<WireSettings>,
): Uint8Array<ArrayBuffer> {
  try {
    // encodeFrame allocates a fresh buffer, never a shared one.
    return encodeFrame({ shape, data }, wire) as Uint8Array<ArrayBuffer>;
  } catch (e) {
    if (e instanceof FrameError)
      throw new RuntimeError(`cannot encode the head's activation: ${e.message}`, { cause: e });
    throw e;
  }
}

function decodeLogits(
  body: Uint8Array,
  headers: Headers,
  manifest: Manifest,
  batch: number,
): { logits: Float32Array; shape: number[] } {
  const contentType = headers.get('content-type') ?? '';
  if (!contentType.toLowerCase().startsWith(FRAME_CONTENT_TYPE)) {
    throw new ProtocolError(`expected ${FRAME_CONTENT_TYPE}, got ${contentType || 'no content type'}`);
  }
  let decoded: ReturnType<typeof decodeFrame>;
  try {
    decoded = decodeFrame(body);
  } catch (e) {
    throw new ProtocolError(`the logits frame is unreadable: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
  const shape = decoded.header.shape;
  const expected = concreteShape(manifest.output, batch);
  if (!sameShape(shape, expected)) throw new ProtocolError(`logits are [${shape}], expected [${expected}]`);
  return { logits: decoded.data, shape };
}
