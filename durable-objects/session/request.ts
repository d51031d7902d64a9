// A step body checked against what this session accepts: the wire format
// (protocol/step.ts), the manifest's cut shape, the ticket's batch size and
// uplink encoding. Cheap header checks come before the payload is decoded, so
// a hostile header costs no allocation. Every failure is a 4xx RpcFailure.

import {
  type ActivationRules,
  activationLimits,
  checkActivationHeader,
  frameRejection,
  type Rejection,
} from '../../protocol/activation.js';
import type { Ticket } from '../../protocol/federation.js';
import { decodeFrame, FrameError, type FrameHeader, type FrameLimits } from '../../protocol/frame.js';
import type { Manifest } from '../../protocol/manifest.js';
import { decodeStepRequest, StepError, type StepRequest } from '../../protocol/step.js';
import { fail, type RpcFailure } from '../rpc.js';

export interface CheckedStep {
  labels: Int32Array;
  header: FrameHeader;
  /** The activation frame, still encoded: decodeActivation turns it into floats. */
  frame: Uint8Array;
  limits: FrameLimits;
  rules: ActivationRules;
}

/** A round accepts its ticket's uplink encoding and batch size, at the manifest's cut. */
function stepRules(manifest: Manifest, ticket: Ticket): ActivationRules {
  return {
    shape: manifest.cut.tensor.shape,
    maxBatch: ticket.batchSize,
    encodings: [ticket.uplink],
    granularities: manifest.wire.granularities,
  };
}

const failure = (r: Rejection): RpcFailure => fail(r.problem, r.detail, { extensions: r.extensions });

/** Envelope, labels and frame header; no payload is decoded yet. */
export function checkStep(body: Uint8Array, manifest: Manifest, ticket: Ticket): CheckedStep | RpcFailure {
  const rules = stepRules(manifest, ticket);
  const limits = activationLimits(rules);
  const numClasses = manifest.output.shape.at(-1);
  let step: StepRequest;
  try {
    step = decodeStepRequest(body, {
      frame: limits,
      numClasses: typeof numClasses === 'number' ? numClasses : undefined,
    });
  } catch (err) {
    return stepFailure(err, rules);
  }
  const rejected = checkActivationHeader(step.header, rules);
  if (rejected) return failure(rejected);
  return { labels: step.labels, header: step.header, frame: step.frame, limits, rules };
}

/** The activation as floats; scales and finiteness are only checked here. */
export function decodeActivation(step: CheckedStep): Float32Array | RpcFailure {
  try {
    return decodeFrame(step.frame, step.limits).data;
  } catch (err) {
    if (err instanceof FrameError) return failure(frameRejection(err.code, err.message, step.rules));
    throw err;
  }
}

function stepFailure(err: unknown, rules: ActivationRules): RpcFailure {
  if (!(err instanceof StepError)) throw err;
  if (err.code === 'bad-frame' && err.frameCode) {
    return failure(frameRejection(err.frameCode, err.message, rules));
  }
  if (err.code === 'label-count-mismatch' || err.code === 'bad-label' || err.code === 'no-labels') {
    return fail('bad-request', err.message, { extensions: { code: err.code } });
  }
  return fail('malformed-frame', err.message, { extensions: { code: err.code } });
}
