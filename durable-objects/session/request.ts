// A step body checked against what this session accepts: the wire format
// (protocol/step.ts), the manifest's cut shape, the ticket's batch size and
// uplink encoding. Cheap header checks come before the payload is decoded, so
// a hostile header costs no allocation. Every failure is a 4xx RpcFailure.
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
}

const fixedDims = (shape: Manifest['cut']['tensor']['shape']) =>
  shape.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

/** Envelope, labels and frame header; no payload is decoded yet. */
export function checkStep(body: Uint8Array, manifest: Manifest, ticket: Ticket): CheckedStep | RpcFailure {
  const expected = manifest.cut.tensor.shape;
  const limits: FrameLimits = { maxElements: fixedDims(expected) * ticket.batchSize };
  const numClasses = manifest.output.shape.at(-1);
  let step: StepRequest;
  try {
    step = decodeStepRequest(body, {
      frame: limits,
      numClasses: typeof numClasses === 'number' ? numClasses : undefined,
    });
  } catch (err) {
    return stepFailure(err, ticket);
  }
  const { header } = step;
  if (header.encoding !== ticket.uplink) {
    return fail(
      'encoding-not-allowed',
      `this round's uplink is ${ticket.uplink}, the activation is ${header.encoding}`,
      {
        extensions: { allowed: [ticket.uplink] },
      },
    );
  }
  if (!manifest.wire.granularities.includes(header.granularity)) {
    return fail('encoding-not-allowed', `scale granularity ${header.granularity} is not accepted`, {
      extensions: { allowed: manifest.wire.granularities },
    });
  }
  const shapeProblem = (why: string) =>
    fail('shape-not-allowed', `activation shape [${header.shape}] does not fit [${expected}]: ${why}`, {
      extensions: { expected, maxBatch: ticket.batchSize },
    });
  if (header.shape.length !== expected.length) {
    return shapeProblem(`rank ${header.shape.length}, expected ${expected.length}`);
  }
  for (let i = 1; i < expected.length; i++) {
    const d = expected[i];
    if (typeof d === 'number' && header.shape[i] !== d) {
      return shapeProblem(`dimension ${i} is ${header.shape[i]}, expected ${d}`);
    }
  }
  if (header.shape[0] > ticket.batchSize) {
    return shapeProblem(`batch ${header.shape[0]} is over this round's ${ticket.batchSize}`);
  }
  return { labels: step.labels, header, frame: step.frame, limits };
}

/** The activation as floats; scales and finiteness are only checked here. */
export function decodeActivation(step: CheckedStep): Float32Array | RpcFailure {
  try {
    return decodeFrame(step.frame, step.limits).data;
  } catch (err) {
    if (err instanceof FrameError)
      return fail('malformed-frame', err.message, { extensions: { code: err.code } });
    throw err;
  }
}

function stepFailure(err: unknown, ticket: Ticket): RpcFailure {
  if (!(err instanceof StepError)) throw err;
  if (err.code === 'bad-frame') {
    if (err.frameCode === 'too-large') {
      return fail('shape-not-allowed', err.message, { extensions: { maxBatch: ticket.batchSize } });
    }
    return fail('malformed-frame', err.message, { extensions: { code: err.frameCode } });
  }
  if (err.code === 'label-count-mismatch' || err.code === 'bad-label' || err.code === 'no-labels') {
    return fail('bad-request', err.message, { extensions: { code: err.code } });
  }
  return fail('malformed-frame', err.message, { extensions: { code: err.code } });
}
