// The held-out set an operator gives a federation to judge its versions by,
// and what an evaluation reports. One implementation for the admin route that
// receives the set, the coordinator that evaluates a round's candidate with
// it, and the tools that write it.
//
// Layout: a safetensors file (common/safetensors.ts, read strictly) with
// exactly two tensors:
//   pixels  F32 [n, ...the model's input shape without its batch], every
//           value finite, preprocessed as the manifest says (the device's
//           own input to the head)
//   labels  I32 or I64 [n], each in 0 … classes − 1
// 1 ≤ n ≤ EVALUATION_LIMITS.maxSamples, within EVALUATION_LIMITS.maxBytes.
// Anything else is an EvaluationSetError with a stable code (a safetensors
// problem keeps the safetensors code).
import { z } from 'zod';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../common/safetensors.js';

export type EvaluationSetErrorCode =
  | 'too-large'
  | 'missing-tensor'
  | 'unknown-tensor'
  | 'bad-dtype'
  | 'wrong-shape'
  | 'empty'
  | 'too-many-samples'
  | 'non-finite'
  | 'label-out-of-range'
  | SafetensorsError['code'];

export class EvaluationSetError extends Error {
  constructor(
    readonly code: EvaluationSetErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'EvaluationSetError';
  }
}

/**
 * The coordinator evaluates inside its own isolate's 128 MB, next to the
 * routes: 32 MiB of images (10,000 at 28×28, 53 at 224×224×3) leaves room.
 */
export const EVALUATION_LIMITS = Object.freeze({ maxBytes: 32 * 1024 * 1024, maxSamples: 10_000 });

export interface EvaluationSet {
  /** n × the model's per-sample input, NCHW. */
  pixels: Float32Array;
  labels: Int32Array;
}

/** What the model expects of a set: its per-sample input shape and its class count. */
export interface EvaluationTarget {
  sampleShape: readonly number[];
  classes: number;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

export function decodeEvaluationSet(bytes: Uint8Array, target: EvaluationTarget): EvaluationSet {
  if (bytes.byteLength > EVALUATION_LIMITS.maxBytes) {
    throw new EvaluationSetError(
      'too-large',
      `${bytes.byteLength} bytes, the limit is ${EVALUATION_LIMITS.maxBytes}`,
    );
  }
  let tensors: ReturnType<typeof decodeSafetensors>['tensors'];
  try {
    tensors = decodeSafetensors(bytes, { maxHeaderBytes: 64 * 1024, maxTensors: 2 }).tensors;
  } catch (err) {
    if (err instanceof SafetensorsError) throw new EvaluationSetError(err.code, err.message);
    throw err;
  }
  for (const name of tensors.keys()) {
    if (name !== 'pixels' && name !== 'labels') {
      throw new EvaluationSetError('unknown-tensor', `"${name}": only pixels and labels are expected`);
    }
  }
  const pixels = tensors.get('pixels');
  const labels = tensors.get('labels');
  if (!pixels || !labels) {
    throw new EvaluationSetError('missing-tensor', 'an evaluation set holds both pixels and labels');
  }
  if (pixels.dtype !== 'float32') throw new EvaluationSetError('bad-dtype', 'pixels must be F32');
  if (labels.dtype !== 'int32' && labels.dtype !== 'int64') {
    throw new EvaluationSetError('bad-dtype', 'labels must be I32 or I64');
  }
  const n = pixels.dims[0];
  if (!sameShape(pixels.dims.slice(1), target.sampleShape) || !sameShape(labels.dims, [n])) {
    throw new EvaluationSetError(
      'wrong-shape',
      `pixels [${pixels.dims}] and labels [${labels.dims}]; the model takes [n, ${target.sampleShape}] and [n]`,
    );
  }
  if (n === 0) throw new EvaluationSetError('empty', 'the set has no samples');
  if (n > EVALUATION_LIMITS.maxSamples) {
    throw new EvaluationSetError(
      'too-many-samples',
      `${n} samples, the limit is ${EVALUATION_LIMITS.maxSamples}`,
    );
  }
  const data = pixels.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new EvaluationSetError('non-finite', `pixels[${i}] is ${data[i]}`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = Number(labels.data[i]);
    if (!Number.isInteger(y) || y < 0 || y >= target.classes) {
      throw new EvaluationSetError(
        'label-out-of-range',
        `labels[${i}] is ${y}; classes are 0…${target.classes - 1}`,
      );
    }
    out[i] = y;
  }
  return { pixels: data, labels: out };
}

export function encodeEvaluationSet(set: EvaluationSet, sampleShape: readonly number[]): Uint8Array {
  const n = set.labels.length;
  return encodeSafetensors(
    new Map([
      ['pixels', { dtype: 'float32' as const, dims: [n, ...sampleShape], data: set.pixels }],
      ['labels', { dtype: 'int32' as const, dims: [n], data: set.labels }],
    ]),
  );
}

/** A version's score on a held-out set: the operator's, at the edge, or one a chosen device reported. */
export const Evaluation = z.object({
  samples: z.number().int().positive(),
  accuracy: z.number().min(0).max(1),
  meanLoss: z.number().nonnegative().finite(),
});
export type Evaluation = z.infer<typeof Evaluation>;

export const EvaluationRecord = Evaluation.extend({
  /** `edge`: the operator's set, run through the edge pipeline; `device`: reported by the federation's evaluator device. */
  source: z.enum(['edge', 'device']),
  /** sha256 of the evaluation set (edge), or the reporting device's id. */
  by: z.string(),
  evaluatedAt: z.number().int(),
});
export type EvaluationRecord = z.infer<typeof EvaluationRecord>;
