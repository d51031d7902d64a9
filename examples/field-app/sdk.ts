// The app's one place for the SDK and the Worker it talks to: the page is
// served by the Worker itself (Workers static assets), so the API is on the
// same origin, and onnxruntime-web's WASM runtime is served next to it at /ort/.
import { createSplitClient, type SplitClient, type WireSettings } from '@splitflare/client';

export const BASE_URL = location.origin;

export type Manifest = Awaited<ReturnType<SplitClient['manifest']>>;
export type Encoding = WireSettings['encoding'];

/** An entry of GET /v1/models. */
export interface ModelSummary {
  id: string;
  cut: string;
  encodings: Encoding[];
  training: boolean;
}

export async function listModels(): Promise<ModelSummary[]> {
  const res = await fetch(`${BASE_URL}/v1/models`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`the Worker answered ${res.status} for its model list`);
  return ((await res.json()) as { models: ModelSummary[] }).models;
}

type Ort = typeof import('onnxruntime-web/wasm');
let ortLoad: Promise<Ort> | undefined;

/**
 * ORT's plain WASM build, loaded on first use (a chunk of its own). The
 * package's default build would fetch the 25 MB+ WebGPU runtime, which
 * Workers static assets cannot serve.
 */
export function loadOrt(): Promise<Ort> {
  ortLoad ??= import('onnxruntime-web/wasm');
  ortLoad.catch(() => {
    ortLoad = undefined;
  });
  return ortLoad;
}

/** What both the split client and the trainer need to run the head in this page. */
export async function runtimeOptions() {
  // Threads would need a cross-origin isolated page; one keeps ORT from probing for them.
  return { ort: await loadOrt(), wasmPaths: '/ort/', numThreads: 1 };
}

// The SDK warns once per model per page about an uplink the server can invert;
// the app keeps the warning so it shows whenever that model is in use.
const warnings = new Map<string, string>();
const warningListeners = new Set<() => void>();

export function warningSink(modelId: string): (message: string) => void {
  return (message) => {
    warnings.set(modelId, message);
    for (const listener of warningListeners) listener();
  };
}

export function privacyWarning(modelId: string): string | undefined {
  return warnings.get(modelId);
}

export function onWarning(listener: () => void): void {
  warningListeners.add(listener);
}

const clients = new Map<string, Promise<SplitClient>>();

/** One client per model and encoding, kept so a head is downloaded and compiled once, not per image. */
export function splitClient(modelId: string, encoding: Encoding): Promise<SplitClient> {
  const key = `${modelId}\u0000${encoding}`;
  let client = clients.get(key);
  if (!client) {
    client = runtimeOptions().then((runtime) =>
      createSplitClient({
        baseUrl: BASE_URL,
        modelId,
        encoding,
        ...runtime,
        onWarning: warningSink(modelId),
      }),
    );
    client.catch(() => clients.delete(key));
    clients.set(key, client);
  }
  return client;
}

/** The model's manifest (through a client, so the SDK checks it and warns about its uplink). */
export async function manifestOf(model: ModelSummary): Promise<Manifest> {
  return (await splitClient(model.id, model.encodings[0])).manifest();
}
