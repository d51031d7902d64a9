import type { InferenceSession } from 'onnxruntime-web';
import { loadOrt } from './ort-wasm.js';

// One session per artifact hash per isolate: creating a session parses and
// optimises the graph, which costs far more than a forward pass.
const sessions = new Map<string, Promise<InferenceSession>>();

export function sessionFor(sha256: string, bytes: ArrayBuffer): Promise<InferenceSession> {
  let s = sessions.get(sha256);
  if (!s) {
    s = create(bytes).catch((err) => {
      sessions.delete(sha256);
      throw err;
    });
    sessions.set(sha256, s);
  }
  return s;
}

async function create(bytes: ArrayBuffer): Promise<InferenceSession> {
  const ort = await loadOrt();
  return ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
}
