// Optimizer state as a JSON-able object: buffers become base64 of their
// float32 little-endian bytes, so the round trip is exact (no decimal printing).
import { f32ToBytes, fromBase64, readF32LE, toBase64 } from './bytes.js';
import { OptimizerError } from './errors.js';
import type { AdamWHyper, SgdHyper } from './hyper.js';
import { type OptimizerKind, type OptimizerState, validateState } from './state.js';

export interface OptimizerStateJson {
  version: 1;
  kind: OptimizerKind;
  step: number;
  hyper: SgdHyper | AdamWHyper;
  params: Record<string, { size: number; buffers: Record<string, string> }>;
}

export function optimizerStateToJson(state: OptimizerState): OptimizerStateJson {
  const s = validateState(state);
  const params = Object.entries(s.params).map(([name, p]) => [
    name,
    {
      size: p.size,
      buffers: Object.fromEntries(Object.entries(p.buffers).map(([k, v]) => [k, toBase64(f32ToBytes(v))])),
    },
  ]);
  return {
    version: s.version,
    kind: s.kind,
    step: s.step,
    hyper: { ...s.hyper },
    params: Object.fromEntries(params),
  };
}

/** Accepts anything (e.g. JSON.parse output) and validates it fully. */
export function optimizerStateFromJson(json: unknown): OptimizerState {
  const j = json as Partial<OptimizerStateJson> | null;
  if (!j || typeof j !== 'object' || !j.params || typeof j.params !== 'object') {
    throw new OptimizerError('invalid_state', 'optimizer state JSON: not an object with params');
  }
  const params = Object.entries(j.params).map(([name, p]) => {
    const buffers = Object.entries(p?.buffers ?? {}).map(([key, text]) => {
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(String(text));
      } catch (e) {
        throw new OptimizerError(
          'invalid_state',
          `optimizer state JSON: ${name}.${key}: ${(e as Error).message}`,
        );
      }
      if (bytes.length % 4 !== 0) {
        throw new OptimizerError(
          'invalid_state',
          `optimizer state JSON: ${name}.${key} is not whole float32s`,
        );
      }
      return [key, readF32LE(bytes, 0, bytes.length / 4)];
    });
    return [name, { size: p?.size, buffers: Object.fromEntries(buffers) }];
  });
  return validateState({ ...j, params: Object.fromEntries(params) });
}
