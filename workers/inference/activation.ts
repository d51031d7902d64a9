import { decodeFrame, FrameError, type FrameHeader, readFrameHeader } from '../../protocol/frame.js';
import type { Manifest } from '../../protocol/manifest.js';
import { HttpProblem } from '../http/problem.js';

export interface Activation {
  shape: number[];
  data: Float32Array;
  header: FrameHeader;
}

/**
 * Decodes a cut-activation frame and checks it against what the manifest
 * allows. Cheap header checks run before the payload is touched, so a hostile
 * header cannot make the Worker allocate or decode anything large.
 */
export function decodeActivation(bytes: Uint8Array, manifest: Manifest): Activation {
  const expected = manifest.cut.tensor.shape;
  const perSample = expected.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  const limits = { maxElements: perSample * manifest.wire.maxBatch };

  let header: FrameHeader;
  try {
    header = readFrameHeader(bytes, limits);
  } catch (err) {
    throw asProblem(err, manifest);
  }
  if (!manifest.wire.encodings.includes(header.encoding)) {
    throw new HttpProblem(
      'encoding-not-allowed',
      `Encoding ${header.encoding} is not accepted by this model.`,
      {
        allowed: manifest.wire.encodings,
      },
    );
  }
  if (!manifest.wire.granularities.includes(header.granularity)) {
    throw new HttpProblem(
      'encoding-not-allowed',
      `Scale granularity ${header.granularity} is not accepted by this model.`,
      { allowed: manifest.wire.granularities },
    );
  }
  checkShape(header.shape, expected, manifest.wire.maxBatch);

  try {
    const { data } = decodeFrame(bytes, limits);
    return { shape: header.shape, data, header };
  } catch (err) {
    throw asProblem(err, manifest);
  }
}

function checkShape(got: number[], expected: Manifest['cut']['tensor']['shape'], maxBatch: number): void {
  const fail = (why: string) =>
    new HttpProblem('shape-not-allowed', `Activation shape [${got}] does not fit [${expected}]: ${why}.`, {
      expected,
    });
  if (got.length !== expected.length) throw fail(`rank ${got.length}, expected ${expected.length}`);
  expected.forEach((d, i) => {
    if (typeof d === 'number' && got[i] !== d) throw fail(`dimension ${i} is ${got[i]}, expected ${d}`);
  });
  if (got[0] > maxBatch) throw fail(`batch ${got[0]} is over the limit of ${maxBatch}`);
}

function asProblem(err: unknown, manifest: Manifest): HttpProblem {
  if (!(err instanceof FrameError)) throw err;
  if (err.code === 'too-large') {
    return new HttpProblem('shape-not-allowed', err.message, { maxBatch: manifest.wire.maxBatch });
  }
  return new HttpProblem('malformed-frame', err.message, { code: err.code });
}
