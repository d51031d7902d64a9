// Checks a safetensors payload against the trainables it must hold. Updates
// come from devices (and initial values from the model build): anything that
// is not exactly the expected float32 tensors with finite values is refused
// before it can touch an accumulator.
import { parseSafetensors } from '../../common/safetensors.js';
import type { TrainableSpec } from '../../protocol/manifest.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The tensors named by `specs`, in the payload's float32 values. An empty
 * payload stands for "no tensors", which is all a side without trainables
 * can send.
 */
export function readTensors(
  bytes: Uint8Array,
  specs: readonly TrainableSpec[],
  what: string,
): Checked<Map<string, Float32Array>> {
  if (bytes.byteLength === 0 && specs.length === 0) return { ok: true, value: new Map() };
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes);
  } catch (err) {
    return { ok: false, reason: `${what} is not a valid safetensors file: ${(err as Error).message}` };
  }
  const expected = new Set(specs.map((s) => s.name));
  const extra = [...parsed.keys()].filter((name) => !expected.has(name));
  if (extra.length > 0) {
    return {
      ok: false,
      reason: `${what} holds tensors that are not its trainables: ${extra.slice(0, 5).join(', ')}`,
    };
  }
  const out = new Map<string, Float32Array>();
  for (const spec of specs) {
    const tensor = parsed.get(spec.name);
    if (!tensor) return { ok: false, reason: `${what} is missing trainable ${spec.name}` };
    if (tensor.dtype !== 'float32') {
      return { ok: false, reason: `${what}: ${spec.name} is ${tensor.dtype}, expected float32` };
    }
    if (tensor.dims.length !== spec.shape.length || tensor.dims.some((d, i) => d !== spec.shape[i])) {
      return {
        ok: false,
        reason: `${what}: ${spec.name} has shape [${tensor.dims}], expected [${spec.shape}]`,
      };
    }
    const data = tensor.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        return { ok: false, reason: `${what}: ${spec.name} has a non-finite value at index ${i}` };
      }
    }
    out.set(spec.name, data);
  }
  return { ok: true, value: out };
}
