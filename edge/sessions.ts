// onnxruntime sessions per isolate, keyed by artifact sha256. Creating a
// session parses and optimises the graph and copies its weights into the
// WebAssembly heap, which costs far more than a run, so sessions are kept.
// But an isolate may serve several models (shard i of each model runs in
// shard script i), and the heap never shrinks: what is kept stays under a
// budget, least recently used first out, so that the heap's peak is about
// that of the largest model's shard rather than the sum over models (a
// released session's memory is reused by the next). A session in use is
// never released under its run.
import type { InferenceSession } from 'onnxruntime-web';
import type { Artifact } from '../protocol/manifest.js';
import { hold, sample } from './memory.js';
import { loadOrt } from './ort-wasm.js';

/**
 * Heap a session holds per byte of its graph: onnxruntime-web keeps the
 * parsed weights and its kernels' packed copies (models/pipeline/plan.ts has
 * the measured figures).
 */
const HEAP_PER_GRAPH_BYTE = 3;
/** Estimated heap of the sessions kept per isolate (the in-use ones may exceed it). */
export const SESSION_BUDGET_BYTES = 72 * 2 ** 20;

interface Entry {
  session: Promise<InferenceSession>;
  bytes: number;
  users: number;
  lastUsed: number;
}

const entries = new Map<string, Entry>();
let clock = 0;

async function create(artifact: Artifact, load: () => Promise<Uint8Array>): Promise<InferenceSession> {
  const ort = await loadOrt();
  const key = `loading:${artifact.sha256}`;
  const bytes = await load();
  hold(key, bytes.byteLength);
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
  } finally {
    hold(key, 0);
    sample();
  }
}

/** Releases idle sessions, least recently used first, until at most `budget` is resident. */
async function evict(budget: number): Promise<void> {
  let resident = 0;
  for (const e of entries.values()) resident += e.bytes;
  const idle = [...entries].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
  for (const [sha, e] of idle) {
    if (resident <= budget) break;
    entries.delete(sha);
    resident -= e.bytes;
    await e.session.then((s) => s.release()).catch(() => undefined);
  }
}

/**
 * Runs `fn` with the session of `artifact`, creating it from `load()` if this
 * isolate has none. `load` must return the verified bytes (ArtifactStore.bytes).
 */
export async function withSession<T>(
  artifact: Artifact,
  load: () => Promise<Uint8Array>,
  fn: (session: InferenceSession) => Promise<T>,
  budget = SESSION_BUDGET_BYTES,
): Promise<T> {
  let entry = entries.get(artifact.sha256);
  if (!entry) {
    const bytes = HEAP_PER_GRAPH_BYTE * artifact.bytes;
    // Room first: the released sessions' memory is what the new one is created in.
    await evict(budget - bytes);
    entry = entries.get(artifact.sha256);
    if (!entry) {
      entry = { session: create(artifact, load), bytes, users: 0, lastUsed: 0 };
      entries.set(artifact.sha256, entry);
      entry.session.catch(() => entries.delete(artifact.sha256));
    }
  }
  entry.users++;
  entry.lastUsed = ++clock;
  try {
    return await fn(await entry.session);
  } finally {
    entry.users--;
    sample();
  }
}

/** Sha256s of the sessions this isolate keeps (for reports and tests). */
export function residentSessions(): string[] {
  return [...entries.keys()];
}
