import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { crc32 } from '../../../protocol/crc32.js';
import type { Encoding } from '../../../protocol/encoding.js';
import { decodeFrame, encodeFrame } from '../../../protocol/frame.js';
import {
  decodeStepAnswer,
  decodeStepRequest,
  encodeStepAnswer,
  encodeStepRequest,
  STEP_ANSWER_OVERHEAD,
  StepError,
  type StepErrorCode,
  stepAnswerSize,
  stepRequestSize,
} from '../../../protocol/step.js';

const ENCODINGS: Encoding[] = ['fp32', 'fp16', 'int8', 'int4', 'int2'];

function codeOf(fn: () => unknown): StepErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    if (e instanceof StepError) return e.code;
    throw e;
  }
  return 'no error';
}

/** A frame of shape [batch, tokens, width] with seeded values. */
function frameOf(batch: number, tokens: number, width: number, encoding: Encoding, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const data = Float32Array.from({ length: batch * tokens * width }, () => (random() - 0.5) * 4);
  return encodeFrame({ shape: [batch, tokens, width], data }, { encoding });
}

const requestArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 9 }),
    tokens: fc.integer({ min: 1, max: 4 }),
    width: fc.integer({ min: 1, max: 6 }),
    encoding: fc.constantFrom(...ENCODINGS),
    seed: fc.integer(),
    classes: fc.integer({ min: 1, max: 0x10000 }),
  })
  .chain((p) =>
    fc.record({
      p: fc.constant(p),
      labels: fc.array(fc.integer({ min: 0, max: p.classes - 1 }), {
        minLength: p.batch,
        maxLength: p.batch,
      }),
    }),
  )
  .map(({ p, labels }) => ({
    ...p,
    labels,
    activation: frameOf(p.batch, p.tokens, p.width, p.encoding, p.seed),
  }));

const answerArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 9 }),
    width: fc.integer({ min: 1, max: 6 }),
    encoding: fc.constantFrom(...ENCODINGS),
    seed: fc.integer(),
    loss: fc.float({ noNaN: true, noDefaultInfinity: true }),
  })
  .chain((p) => fc.record({ p: fc.constant(p), correct: fc.integer({ min: 0, max: p.batch }) }))
  .map(({ p, correct }) => ({
    ...p,
    correct,
    gradient: frameOf(p.batch, 2, p.width, p.encoding, p.seed),
  }));

describe('step request', () => {
  it('round-trips labels and the frame, and has the documented size', () => {
    fc.assert(
      fc.property(requestArb, ({ labels, activation, classes }) => {
        const bytes = encodeStepRequest({ activation, labels }, { numClasses: classes });
        expect(bytes.length).toBe(stepRequestSize(labels.length, activation.length));
        const got = decodeStepRequest(bytes, { numClasses: classes });
        expect(Array.from(got.labels)).toEqual(labels);
        expect(got.frame).toEqual(activation);
        expect(got.header.shape[0]).toBe(labels.length);
        // The frame starts 4-aligned inside the envelope.
        expect(got.frame.byteOffset % 4).toBe(0);
        expect(decodeFrame(got.frame).data).toEqual(decodeFrame(activation).data);
      }),
    );
  });

  it('turns every truncation of a request into a StepError', () => {
    const labels = [1, 2, 3];
    const bytes = encodeStepRequest({ activation: frameOf(3, 2, 5, 'int4', 1), labels });
    for (let len = 0; len < bytes.length; len++) {
      expect(codeOf(() => decodeStepRequest(bytes.subarray(0, len)))).not.toBe('no error');
    }
    expect(codeOf(() => decodeStepRequest(bytes.subarray(0, 2)))).toBe('truncated');
  });

  it('turns every truncation and every single bit flip into a StepError', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (r, at, bit) => {
        const bytes = encodeStepRequest({ activation: r.activation, labels: r.labels });
        expect(codeOf(() => decodeStepRequest(bytes.subarray(0, at % bytes.length)))).not.toBe('no error');
        const i = at % bytes.length;
        bytes[i] ^= 1 << bit;
        expect(codeOf(() => decodeStepRequest(bytes))).not.toBe('no error');
      }),
    );
  });

  it('never throws anything but StepError on random bytes or random tails', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, withMagic) => {
        const bytes = withMagic ? Uint8Array.from([0x53, 0x46, 0x53, 0x51, 1, 0, 0, 0, ...junk]) : junk;
        expect(codeOf(() => decodeStepRequest(bytes))).not.toBe('no error');
      }),
    );
  });

  it('rejects a well-formed envelope whose fields are wrong, with stable codes', () => {
    const activation = frameOf(2, 2, 3, 'fp32', 4);
    const ok = encodeStepRequest({ activation, labels: [0, 9] });
    const refresh = (b: Uint8Array) => {
      const v = new DataView(b.buffer, b.byteOffset, b.length);
      v.setUint32(16, crc32(b.subarray(0, 16)), true);
      return b;
    };
    const edit = (f: (b: Uint8Array) => void) => {
      const b = ok.slice();
      f(b);
      return refresh(b);
    };
    expect(codeOf(() => decodeStepRequest(ok, { numClasses: 9 }))).toBe('bad-label');
    expect(codeOf(() => decodeStepRequest(edit((b) => (b[0] = 0x58))))).toBe('bad-magic');
    expect(codeOf(() => decodeStepRequest(edit((b) => (b[4] = 2))))).toBe('bad-version');
    expect(codeOf(() => decodeStepRequest(edit((b) => (b[6] = 1))))).toBe('bad-reserved');
    // One label for a batch of two: the envelope of a one-label request, then a two-row frame.
    const one = encodeStepRequest({ activation: frameOf(1, 2, 3, 'fp32', 4), labels: [0] });
    const mismatched = Uint8Array.from([...one.subarray(0, 20), ...activation]);
    expect(codeOf(() => decodeStepRequest(mismatched))).toBe('label-count-mismatch');
    expect(codeOf(() => decodeStepRequest(ok.subarray(0, 20)))).toBe('bad-frame');
    const foreign = Uint8Array.from([...ok.subarray(0, 20), 1, 2, 3, 4]);
    expect(() => decodeStepRequest(foreign)).toThrow(
      expect.objectContaining({ code: 'bad-frame', frameCode: 'bad-magic' }),
    );
  });

  it('refuses to encode what it could not decode', () => {
    const activation = frameOf(2, 1, 3, 'int8', 1);
    expect(codeOf(() => encodeStepRequest({ activation, labels: [1] }))).toBe('label-count-mismatch');
    expect(codeOf(() => encodeStepRequest({ activation, labels: [] }))).toBe('no-labels');
    expect(codeOf(() => encodeStepRequest({ activation, labels: [1, 0x10000] }))).toBe('bad-label');
    expect(codeOf(() => encodeStepRequest({ activation, labels: [1, 1.5] }))).toBe('bad-label');
    expect(codeOf(() => encodeStepRequest({ activation, labels: [1, 10] }, { numClasses: 10 }))).toBe(
      'bad-label',
    );
    expect(codeOf(() => encodeStepRequest({ activation: activation.subarray(1), labels: [1, 2] }))).toBe(
      'bad-frame',
    );
  });
});

describe('step answer', () => {
  it('round-trips loss, count and the frame, and has the documented size', () => {
    fc.assert(
      fc.property(answerArb, ({ loss, correct, gradient }) => {
        const bytes = encodeStepAnswer({ loss, correct, gradient });
        expect(bytes.length).toBe(stepAnswerSize(gradient.length));
        const got = decodeStepAnswer(bytes);
        expect(got.loss).toBe(Math.fround(loss));
        expect(got.correct).toBe(correct);
        expect(got.frame).toEqual(gradient);
        expect(got.frame.byteOffset % 4).toBe(0);
      }),
    );
  });

  it('turns every truncation and every single bit flip into a StepError', () => {
    fc.assert(
      fc.property(answerArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (a, at, bit) => {
        const bytes = encodeStepAnswer(a);
        expect(codeOf(() => decodeStepAnswer(bytes.subarray(0, at % bytes.length)))).not.toBe('no error');
        const i = at % bytes.length;
        bytes[i] ^= 1 << bit;
        expect(codeOf(() => decodeStepAnswer(bytes))).not.toBe('no error');
      }),
    );
  });

  it('never throws anything but StepError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, withMagic) => {
        const bytes = withMagic ? Uint8Array.from([0x53, 0x46, 0x53, 0x41, 1, 0, 0, 0, ...junk]) : junk;
        expect(codeOf(() => decodeStepAnswer(bytes))).not.toBe('no error');
      }),
    );
  });

  it('refuses non-finite losses and impossible counts', () => {
    const gradient = frameOf(3, 1, 2, 'int8', 2);
    expect(codeOf(() => encodeStepAnswer({ loss: Number.NaN, correct: 0, gradient }))).toBe('non-finite');
    expect(codeOf(() => encodeStepAnswer({ loss: 1e39, correct: 0, gradient }))).toBe('non-finite');
    expect(codeOf(() => encodeStepAnswer({ loss: 1, correct: 4, gradient }))).toBe('bad-count');
    expect(codeOf(() => encodeStepAnswer({ loss: 1, correct: -1, gradient }))).toBe('bad-count');
    const bytes = encodeStepAnswer({ loss: 1, correct: 3, gradient });
    const view = new DataView(bytes.buffer);
    view.setUint32(12, 4, true);
    view.setUint32(16, crc32(bytes.subarray(0, 16)), true);
    expect(codeOf(() => decodeStepAnswer(bytes))).toBe('bad-count');
    view.setUint32(12, 3, true);
    view.setFloat32(8, Number.POSITIVE_INFINITY, true);
    view.setUint32(16, crc32(bytes.subarray(0, 16)), true);
    expect(codeOf(() => decodeStepAnswer(bytes))).toBe('non-finite');
    expect(STEP_ANSWER_OVERHEAD).toBe(20);
  });
});
