import {
  type ActivationRules,
  activationLimits,
  checkActivationHeader,
  frameRejection,
  type Rejection,
} from '../../protocol/activation.js';
import { decodeFrame, FrameError, type FrameHeader, readFrameHeader } from '../../protocol/frame.js';
import type { Manifest } from '../../protocol/manifest.js';
import { HttpProblem } from '../http/problem.js';

export interface Activation {
  shape: number[];
  data: Float32Array;
  header: FrameHeader;
}

export function inferenceRules(manifest: Manifest): ActivationRules {
  return {
    shape: manifest.cut.tensor.shape,
    maxBatch: manifest.wire.maxBatch,
    encodings: manifest.wire.encodings,
    granularities: manifest.wire.granularities,
  };
}

const problem = (r: Rejection) => new HttpProblem(r.problem, r.detail, r.extensions);

/** Decodes a cut-activation frame the manifest accepts; anything else is a 4xx HttpProblem. */
export function decodeActivation(bytes: Uint8Array, manifest: Manifest): Activation {
  const rules = inferenceRules(manifest);
  const limits = activationLimits(rules);
  try {
    const header = readFrameHeader(bytes, limits);
    const rejected = checkActivationHeader(header, rules);
    if (rejected) throw problem(rejected);
    const { data } = decodeFrame(bytes, limits);
    return { shape: header.shape, data, header };
  } catch (err) {
    if (err instanceof FrameError) throw problem(frameRejection(err.code, err.message, rules));
    throw err;
  }
}
