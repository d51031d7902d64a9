import type { DeployedModel } from '../registry.js';
import { loadOrt } from '../runtime/ort-wasm.js';
import { sessionFor } from '../runtime/tail-sessions.js';
import type { Activation } from './activation.js';

export interface TailOutput {
  shape: number[];
  data: Float32Array;
}

/** Runs the tail segment on a decoded activation and returns its first output. */
export async function runTail(model: DeployedModel, activation: Activation): Promise<TailOutput> {
  const { manifest } = model;
  const ort = await loadOrt();
  const session = await sessionFor(manifest.artifacts.tail.sha256, model.tail);
  const feeds = { [manifest.cut.tensor.name]: new ort.Tensor('float32', activation.data, activation.shape) };
  const results = await session.run(feeds);
  const out = results[manifest.output.name];
  try {
    return { shape: [...out.dims], data: new Float32Array(out.data as Float32Array) };
  } finally {
    for (const t of Object.values(results)) t.dispose();
  }
}
