// What a cut-activation frame must satisfy before it is decoded, shared by the
// inference route (rules from the manifest) and the training session (rules
// from the round's ticket). Header-only, so a hostile header costs nothing.
import type { Encoding, ScaleGranularity } from './encoding.js';
import type { FrameErrorCode, FrameHeader, FrameLimits } from './frame.js';
import type { Manifest } from './manifest.js';
import type { ProblemExtensions, ProblemSlug } from './problem.js';

export interface ActivationRules {
  /** The cut tensor's shape, symbolic batch first. */
  shape: Manifest['cut']['tensor']['shape'];
  maxBatch: number;
  encodings: readonly Encoding[];
  granularities: readonly ScaleGranularity[];
}

/** Why a frame is refused: a problem slug with its detail, for either an HTTP problem or an RPC failure. */
export interface Rejection {
  problem: ProblemSlug;
  detail: string;
  extensions: ProblemExtensions;
}

/** Element limits that stop an oversized frame at its header. */
export function activationLimits(rules: ActivationRules): FrameLimits {
  const perSample = rules.shape.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  return { maxElements: perSample * rules.maxBatch };
}

export function checkActivationHeader(header: FrameHeader, rules: ActivationRules): Rejection | null {
  if (!rules.encodings.includes(header.encoding)) {
    return {
      problem: 'encoding-not-allowed',
      detail: `Encoding ${header.encoding} is not accepted here; allowed: ${rules.encodings.join(', ')}.`,
      extensions: { allowed: [...rules.encodings] },
    };
  }
  if (!rules.granularities.includes(header.granularity)) {
    return {
      problem: 'encoding-not-allowed',
      detail: `Scale granularity ${header.granularity} is not accepted here.`,
      extensions: { allowed: [...rules.granularities] },
    };
  }
  const { shape } = rules;
  const reject = (why: string): Rejection => ({
    problem: 'shape-not-allowed',
    detail: `Activation shape [${header.shape}] does not fit [${shape}]: ${why}.`,
    extensions: { expected: shape, maxBatch: rules.maxBatch },
  });
  if (header.shape.length !== shape.length)
    return reject(`rank ${header.shape.length}, expected ${shape.length}`);
  for (let i = 1; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d === 'number' && header.shape[i] !== d)
      return reject(`dimension ${i} is ${header.shape[i]}, expected ${d}`);
  }
  if (header.shape[0] > rules.maxBatch)
    return reject(`batch ${header.shape[0]} is over the limit of ${rules.maxBatch}`);
  return null;
}

/** A frame that failed to parse: over the element limit is a shape problem, anything else is malformed. */
export function frameRejection(code: FrameErrorCode, message: string, rules: ActivationRules): Rejection {
  if (code === 'too-large') {
    return { problem: 'shape-not-allowed', detail: message, extensions: { maxBatch: rules.maxBatch } };
  }
  return { problem: 'malformed-frame', detail: message, extensions: { code } };
}
