import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import {
  BFLOAT16_MAX,
  BITS,
  bfloat16Value,
  crc32,
  decodeFrame,
  type Encoding,
  encodeFrame,
  FLOAT32_MAX,
  FRAME_VERSION,
  FrameError,
  type FrameErrorCode,
  frameSize,
  isBfloat16,
  MAX_TOKEN_SCALE_CODE,
  maxScale,
  readFrameHeader,
  type ScaleGranularity,
  type Tensor,
  tokenScale,
} from '../../../protocol/index.js';

const ENCODINGS: Encoding[] = ['fp32', 'fp16', 'int8', 'int4', 'int2'];
const INT_ENCODINGS: Encoding[] = ['int8', 'int4', 'int2'];
const GRANULARITIES: ScaleGranularity[] = ['tensor', 'token'];
const QMAX: Record<string, number> = { int8: 127, int4: 7, int2: 1 };

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function nScales(shape: number[], encoding: Encoding, granularity: ScaleGranularity): number {
  if (BITS[encoding] >= 16) return 0;
  return granularity === 'tensor' ? 1 : product(shape) / shape[shape.length - 1];
}

/** Scale bytes on the wire: a bf16 (the scale, or the token scales' reference), a byte per token, padded to 4. */
function scaleBytes(n: number, granularity: ScaleGranularity): number {
  if (n === 0) return 0;
  return granularity === 'tensor' ? 4 : 4 * Math.ceil((2 + n) / 4);
}

/** The bf16 scale (or reference) and the token codes a frame carries. */
function scaleFieldsOf(frame: Uint8Array, shape: number[]) {
  const at = 8 + 4 * shape.length;
  const reference = bfloat16Value(new DataView(frame.buffer, frame.byteOffset).getUint16(at, true));
  return { at, reference };
}

/** Every group's scale as the decoder derives it. */
function scalesOf(frame: Uint8Array, shape: number[], encoding: Encoding, granularity: ScaleGranularity) {
  const n = nScales(shape, encoding, granularity);
  if (n === 0) return [];
  const { at, reference } = scaleFieldsOf(frame, shape);
  if (granularity === 'tensor') return [reference];
  return Array.from(frame.subarray(at + 2, at + 2 + n), (c) => tokenScale(reference, c));
}

/** Rewrites the trailing CRC so that a deliberately corrupted field reaches its own check. */
function fixCrc(frame: Uint8Array): Uint8Array {
  const end = frame.length - 4;
  new DataView(frame.buffer, frame.byteOffset, frame.length).setUint32(
    end,
    crc32(frame.subarray(0, end)),
    true,
  );
  return frame;
}

function codeOf(fn: () => unknown): FrameErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    if (e instanceof FrameError) return e.code;
    throw e;
  }
  return 'no error';
}

// Values: zeros, unit-scale, integers, huge (up to 1e38, below where int
// scales saturate) and subnormal magnitudes, mixed within one token.
const valueArb = fc.oneof(
  fc.constant(0),
  fc.float({ min: -1, max: 1, noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.float({ min: Math.fround(-1e38), max: Math.fround(1e38), noNaN: true }),
  fc.float({ min: Math.fround(-1e-40), max: Math.fround(1e-40), noNaN: true }),
);

const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });

function tensorArb(values: fc.Arbitrary<number>): fc.Arbitrary<Tensor> {
  return shapeArb.chain((shape) => {
    const n = product(shape);
    const last = shape[shape.length - 1];
    return fc
      .tuple(
        fc.array(values, { minLength: n, maxLength: n }),
        fc.array(fc.boolean(), { minLength: n / last, maxLength: n / last }),
      )
      .map(([vals, zeroTokens]) => {
        const data = Float32Array.from(vals);
        zeroTokens.forEach((z, t) => {
          if (z) data.fill(0, t * last, (t + 1) * last);
        });
        return { shape, data };
      });
  });
}

function sample(shape: number[], seed = 7): Tensor {
  const rnd = mulberry32(seed);
  const data = Float32Array.from({ length: product(shape) }, () => (rnd() - 0.5) * 8);
  return { shape, data };
}

describe('layout', () => {
  it('writes the documented bytes (fp32)', () => {
    const f = encodeFrame({ shape: [2], data: Float32Array.from([1, -2]) }, { encoding: 'fp32' });
    const body = [0x53, 0x46, 0x4c, 0x46, 2, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0];
    expect(Array.from(f.subarray(0, 20))).toEqual(body);
    expect(f.length).toBe(24);
    expect(new DataView(f.buffer).getUint32(20, true)).toBe(crc32(Uint8Array.from(body)));
  });

  it('writes the documented bytes (int4, per token)', () => {
    const f = encodeFrame(
      { shape: [2, 3], data: Float32Array.from([7, -7, 3.5, 1, -0.5, 0.25]) },
      { encoding: 'int4' },
    );
    // magic, version 2, int4 = 3, token = 1, rank 2, dims 2 and 3; the
    // reference scale 7/7 = 1 (bf16 0x3F80) and the token codes: 0 for the
    // first token, 44 (0x2C) for the second, whose ideal scale is 1/7: 2^-44/16
    // = 0.1487 >= 1/7 > 2^-45/16 = 0.1423. Codes 7 -7 4 | 7 -3 2 (1/0.1487 =
    // 6.7, -0.5/0.1487 = -3.4, 0.25/0.1487 = 1.7) packed low nibble first, CRC.
    const body = [
      0x53, 0x46, 0x4c, 0x46, 2, 3, 1, 2, 2, 0, 0, 0, 3, 0, 0, 0, 0x80, 0x3f, 0x00, 0x2c, 0x97, 0x74, 0x2d,
    ];
    expect(Array.from(f.subarray(0, body.length))).toEqual(body);
    expect(f.length).toBe(body.length + 4);
    expect(new DataView(f.buffer).getUint32(body.length, true)).toBe(crc32(Uint8Array.from(body)));
    expect(frameSize([2, 3], 'int4', 'token')).toBe(27);
  });

  it('writes the documented bytes (int8, one scale rounded up to bf16, padded)', () => {
    const f = encodeFrame(
      { shape: [3], data: Float32Array.from([1, -0.5, 0.25]) },
      { encoding: 'int8', granularity: 'tensor' },
    );
    // 1/127 rounds up to the bf16 0x3C02 = 1.015625 · 2^-7 (float32 1/127 is
    // 0x3C010204), so 1 quantizes to 126.03 -> 126 = 0x7E, -0.5 to -63 = 0xC1
    // and 0.25 to 31.51 -> 32 = 0x20. Two zero bytes pad the lone scale so the
    // payload starts at 16.
    const body = [0x53, 0x46, 0x4c, 0x46, 2, 2, 0, 1, 3, 0, 0, 0, 0x02, 0x3c, 0, 0, 0x7e, 0xc1, 0x20];
    expect(Array.from(f.subarray(0, body.length))).toEqual(body);
    expect(f.length).toBe(body.length + 4);
    expect(new DataView(f.buffer).getUint32(body.length, true)).toBe(crc32(Uint8Array.from(body)));
    expect(frameSize([3], 'int8', 'tensor')).toBe(23);
  });

  it('int4 with per-token scales costs 33 B per 64-wide token against 256 B of fp32', () => {
    const shape = [8, 17, 64];
    const int4 = frameSize(shape, 'int4', 'token');
    const int8 = frameSize(shape, 'int8', 'token');
    const fp32 = frameSize(shape, 'fp32', 'token');
    // 24 fixed bytes (header, dims, CRC), the 2-byte reference and 136 token
    // codes padded to 140 bytes, and 136 tokens of 32 B (int4) or 64 B codes.
    expect(int4).toBe(24 + 140 + 136 * 32);
    expect(int8).toBe(24 + 140 + 136 * 64);
    expect(fp32).toBe(24 + 136 * 256);
    expect(encodeFrame(sample(shape), { encoding: 'int4' }).length).toBe(int4);
    // Each further token costs 33/256 = 1/7.76 of fp32 (adding a multiple of
    // 4 tokens, so that the padding stays the same)...
    const perToken = (e: Encoding) => frameSize([12, 17, 64], e, 'token') - frameSize(shape, e, 'token');
    expect(perToken('int4') / perToken('fp32')).toBe(33 / 256);
    expect(perToken('int8') / perToken('fp32')).toBe(65 / 256);
    // ...and the fixed bytes leave this whole frame at 1/7.71; the whole-frame
    // ratio passes 1/7.5 from 21 tokens on.
    expect(fp32 / int4).toBeCloseTo(34840 / 4516, 12);
    const ratio = (s: number[]) => frameSize(s, 'fp32', 'token') / frameSize(s, 'int4', 'token');
    expect(ratio([1, 20, 64])).toBeLessThan(7.5);
    expect(ratio([1, 21, 64])).toBeGreaterThanOrEqual(7.5);
    expect(ratio([32, 17, 64])).toBeGreaterThanOrEqual(7.7);
  });

  it('frame length equals frameSize() = 12 + 4·rank + S + ceil(numel·bits/8)', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 })
          .filter((s) => product(s) <= 5000),
        fc.constantFrom(...ENCODINGS),
        fc.constantFrom(...GRANULARITIES),
        (shape, encoding, granularity) => {
          const f = encodeFrame(sample(shape), { encoding, granularity });
          const formula =
            12 +
            4 * shape.length +
            scaleBytes(nScales(shape, encoding, granularity), granularity) +
            Math.ceil((product(shape) * BITS[encoding]) / 8);
          expect(frameSize(shape, encoding, granularity)).toBe(formula);
          expect(f.length).toBe(formula);
          expect(readFrameHeader(f)).toEqual({
            version: FRAME_VERSION,
            encoding,
            granularity,
            shape,
            numel: product(shape),
            byteLength: formula,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('frameSize rejects shapes a frame cannot carry', () => {
    expect(codeOf(() => frameSize([], 'int8', 'token'))).toBe('bad-rank');
    expect(codeOf(() => frameSize([1, 1, 1, 1, 1, 1, 1, 1, 1], 'int8', 'token'))).toBe('bad-rank');
    expect(codeOf(() => frameSize([2, 0], 'int8', 'token'))).toBe('bad-dimension');
    expect(codeOf(() => frameSize([2.5], 'int8', 'token'))).toBe('bad-dimension');
    expect(codeOf(() => frameSize([2 ** 32], 'int8', 'token'))).toBe('bad-dimension');
    expect(frameSize([2 ** 32 - 1], 'fp32', 'tensor')).toBe(12 + 4 + (2 ** 32 - 1) * 4);
  });
});

describe('round trip', () => {
  it('int encodings: |decoded - x| <= s/2 (nearest) or < s (stochastic), s the group scale', () => {
    fc.assert(
      fc.property(
        tensorArb(valueArb),
        fc.constantFrom(...INT_ENCODINGS),
        fc.constantFrom(...GRANULARITIES),
        fc.constantFrom('nearest' as const, 'stochastic' as const),
        fc.integer(),
        (t, encoding, granularity, rounding, seed) => {
          const frame = encodeFrame(t, { encoding, granularity, rounding, random: mulberry32(seed) });
          const { header, data } = decodeFrame(frame);
          expect(header.shape).toEqual(t.shape);
          expect(data.length).toBe(t.data.length);
          const scales = scalesOf(frame, t.shape, encoding, granularity);
          const { reference } = scaleFieldsOf(frame, t.shape);
          const group = granularity === 'tensor' ? t.data.length : t.shape[t.shape.length - 1];
          const qmax = QMAX[encoding];
          const maxAbsOf = (g: number) =>
            t.data.subarray(g * group, (g + 1) * group).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          const top = Math.max(...scales.map((_, g) => maxAbsOf(g)));
          // the reference (or the lone scale) is the least bf16 at or above the
          // largest maxAbs/qmax: one bf16 ulp (2^-7 relative, 2^-133 among
          // subnormals) of headroom at most; an all-zero tensor gets 1
          if (top === 0) expect(reference).toBe(1);
          else {
            expect(reference).toBeGreaterThanOrEqual(top / qmax);
            expect(reference).toBeLessThanOrEqual((top / qmax) * (1 + 2 ** -7) + 2 ** -133);
          }
          scales.forEach((s, g) => {
            const ideal = maxAbsOf(g) / qmax;
            if (ideal === 0) {
              expect(s).toBe(reference);
              return;
            }
            expect(s).toBeGreaterThanOrEqual(ideal);
            // a token scale overshoots by less than one 2^(1/16) step (plus the
            // float32 rounding of the product), unless it sits on the lowest code
            const lowest = tokenScale(reference, MAX_TOKEN_SCALE_CODE);
            if (granularity === 'token' && s > lowest) {
              expect(s).toBeLessThanOrEqual(ideal * 2 ** (1 / 16) * (1 + 2 ** -23) + 2 ** -149);
            }
          });
          for (let i = 0; i < data.length; i++) {
            const x = t.data[i];
            const s = scales[Math.floor(i / group)];
            // float32 rounding of q·s, relative 2^-24 of a value <= |x| + s, plus subnormal granularity
            const eps = 2 ** -23 * (Math.abs(x) + s) + 2 ** -149;
            const err = Math.abs(data[i] - x);
            if (rounding === 'nearest') expect(err).toBeLessThanOrEqual(s / 2 + eps);
            else expect(err).toBeLessThan(s + eps);
            if (x === 0) expect(data[i]).toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fp32 is bit-exact', () => {
    fc.assert(
      fc.property(
        tensorArb(fc.float({ noNaN: true, noDefaultInfinity: true })),
        fc.constantFrom(...GRANULARITIES),
        (t, g) => {
          const { data } = decodeFrame(encodeFrame(t, { encoding: 'fp32', granularity: g }));
          expect(Array.from(new Uint32Array(data.buffer))).toEqual(
            Array.from(new Uint32Array(t.data.buffer)),
          );
        },
      ),
    );
  });

  it('fp16 is within float16 rounding: relative 2^-11, or 2^-25 absolute for subnormals', () => {
    const values = fc.oneof(
      fc.float({ min: -65504, max: 65504, noNaN: true }),
      fc.float({ min: -1, max: 1, noNaN: true }),
      fc.float({ min: Math.fround(-1e-4), max: Math.fround(1e-4), noNaN: true }),
    );
    fc.assert(
      fc.property(tensorArb(values), (t) => {
        const { data } = decodeFrame(encodeFrame(t, { encoding: 'fp16' }));
        for (let i = 0; i < data.length; i++) {
          const x = t.data[i];
          expect(Math.abs(data[i] - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
        }
      }),
    );
  });

  it('extreme magnitudes still decode to finite values (saturating at the scale cap)', () => {
    const data = Float32Array.from([FLOAT32_MAX, -FLOAT32_MAX, 1e38, 2 ** -149, -(2 ** -149), 0, 1, -3e38]);
    const tiny = Float32Array.from([2 ** -149, -(2 ** -149), 2 ** -140, 0]);
    for (const encoding of INT_ENCODINGS) {
      for (const granularity of GRANULARITIES) {
        for (const rounding of ['nearest', 'stochastic'] as const) {
          for (const [shape, xs] of [
            [[2, 4], data],
            [[4], tiny],
          ] as const) {
            const t = { shape: [...shape], data: xs };
            const f = encodeFrame(t, { encoding, granularity, rounding, random: mulberry32(3) });
            const out = decodeFrame(f).data;
            const scales = scalesOf(f, t.shape, encoding, granularity);
            const group = granularity === 'tensor' ? xs.length : shape[shape.length - 1];
            const qmax = QMAX[encoding];
            out.forEach((v, i) => {
              expect(Number.isFinite(v)).toBe(true);
              const s = scales[Math.floor(i / group)];
              const x = xs[i];
              if (Math.abs(x) <= qmax * s) {
                expect(Math.abs(v - x)).toBeLessThanOrEqual(s * (1 + 2 ** -22) + 2 ** -149);
              } else {
                // beyond the largest level only a capped scale can leave x: it saturates
                expect(s).toBe(maxScale(BITS[encoding] as 8 | 4 | 2));
                expect(v).toBe(Math.sign(x) * qmax * s);
              }
            });
          }
        }
      }
    }
  });

  it('decodes frames at any byte offset', () => {
    for (const encoding of ENCODINGS) {
      const t = sample([3, 5]);
      const f = encodeFrame(t, { encoding });
      const expected = decodeFrame(f).data;
      for (let shift = 1; shift < 4; shift++) {
        const buf = new Uint8Array(f.length + shift);
        buf.set(f, shift);
        expect(decodeFrame(buf.subarray(shift)).data).toEqual(expected);
      }
    }
  });

  it('defaults to per-token scales and nearest rounding', () => {
    const t = sample([2, 6]);
    const f = encodeFrame(t, { encoding: 'int8' });
    expect(readFrameHeader(f).granularity).toBe('token');
    expect(f).toEqual(encodeFrame(t, { encoding: 'int8', granularity: 'token', rounding: 'nearest' }));
    // stochastic without a source still works
    expect(decodeFrame(encodeFrame(t, { encoding: 'int2', rounding: 'stochastic' })).data.length).toBe(12);
  });
});

describe('encoder refusals', () => {
  it('throws FrameError for bad tensors, never emitting an undecodable frame', () => {
    const nan = Float32Array.from([1, Number.NaN]);
    const inf = Float32Array.from([Number.POSITIVE_INFINITY, 1]);
    for (const encoding of ENCODINGS) {
      expect(codeOf(() => encodeFrame({ shape: [2], data: nan }, { encoding }))).toBe('non-finite');
      expect(codeOf(() => encodeFrame({ shape: [2], data: inf }, { encoding }))).toBe('non-finite');
      expect(codeOf(() => encodeFrame({ shape: [3], data: nan }, { encoding }))).toBe('length-mismatch');
      expect(codeOf(() => encodeFrame({ shape: [], data: nan }, { encoding }))).toBe('bad-rank');
      expect(codeOf(() => encodeFrame({ shape: Array(9).fill(1), data: nan }, { encoding }))).toBe(
        'bad-rank',
      );
      expect(codeOf(() => encodeFrame({ shape: [2, 0], data: nan }, { encoding }))).toBe('bad-dimension');
      expect(codeOf(() => encodeFrame({ shape: [-2], data: nan }, { encoding }))).toBe('bad-dimension');
      expect(
        codeOf(() =>
          encodeFrame(
            { shape: [2], data: Float32Array.from([1, 2]) },
            { encoding, limits: { maxElements: 1 } },
          ),
        ),
      ).toBe('too-large');
    }
    expect(
      codeOf(() => encodeFrame({ shape: [1], data: Float32Array.from([65520]) }, { encoding: 'fp16' })),
    ).toBe('non-finite');
    expect(
      decodeFrame(encodeFrame({ shape: [1], data: Float32Array.from([65519]) }, { encoding: 'fp16' }))
        .data[0],
    ).toBe(65504);
  });

  it('throws TypeError for invalid options', () => {
    const t = sample([2]);
    expect(() => encodeFrame(t, { encoding: 'int3' as Encoding })).toThrow(TypeError);
    expect(() => encodeFrame(t, { encoding: 'int8', granularity: 'row' as ScaleGranularity })).toThrow(
      TypeError,
    );
    expect(() => encodeFrame(t, { encoding: 'int8', rounding: 'up' as 'nearest' })).toThrow(TypeError);
    expect(() => encodeFrame(t, { encoding: 'int8', random: 3 as unknown as () => number })).toThrow(
      TypeError,
    );
    expect(() =>
      encodeFrame({ shape: [2], data: [1, 2] as unknown as Float32Array }, { encoding: 'fp32' }),
    ).toThrow(TypeError);
  });
});

describe('malformed frames', () => {
  const valid = () =>
    ENCODINGS.flatMap((encoding) =>
      GRANULARITIES.map((granularity) => encodeFrame(sample([3, 5]), { encoding, granularity })),
    );

  it('every truncation is truncated, every extension a length mismatch', () => {
    for (const f of valid()) {
      for (let len = 0; len < f.length; len++) {
        const code = codeOf(() => decodeFrame(f.slice(0, len)));
        expect(['truncated', 'length-mismatch']).toContain(code);
        expect(codeOf(() => readFrameHeader(f.slice(0, len)))).toBe(code);
      }
      const longer = new Uint8Array(f.length + 1);
      longer.set(f);
      expect(codeOf(() => decodeFrame(longer))).toBe('length-mismatch');
    }
  });

  it('rejects a foreign magic, version, encoding, granularity and rank', () => {
    const f = encodeFrame(sample([3, 5]), { encoding: 'int8' });
    const patched = (at: number, value: number) => {
      const g = f.slice();
      g[at] = value;
      return fixCrc(g);
    };
    expect(codeOf(() => decodeFrame(patched(0, 0x73)))).toBe('bad-magic');
    expect(codeOf(() => decodeFrame(patched(3, 0)))).toBe('bad-magic');
    expect(codeOf(() => decodeFrame(new TextEncoder().encode('GIF89a')))).toBe('bad-magic');
    expect(codeOf(() => decodeFrame(new TextEncoder().encode('{}')))).toBe('bad-magic');
    expect(codeOf(() => decodeFrame(patched(4, 0)))).toBe('bad-version');
    // version 1 carried a bf16 per token
    expect(codeOf(() => decodeFrame(patched(4, 1)))).toBe('bad-version');
    expect(codeOf(() => decodeFrame(patched(4, 3)))).toBe('bad-version');
    expect(codeOf(() => decodeFrame(patched(5, 5)))).toBe('unknown-encoding');
    expect(codeOf(() => decodeFrame(patched(5, 255)))).toBe('unknown-encoding');
    expect(codeOf(() => decodeFrame(patched(6, 2)))).toBe('unknown-granularity');
    expect(codeOf(() => decodeFrame(patched(7, 0)))).toBe('bad-rank');
    expect(codeOf(() => decodeFrame(patched(7, 9)))).toBe('bad-rank');
    expect(codeOf(() => decodeFrame(patched(7, 255)))).toBe('bad-rank');
    expect(codeOf(() => decodeFrame(f, { maxRank: 1 }))).toBe('bad-rank');
    expect(codeOf(() => decodeFrame(f, { maxElements: 14 }))).toBe('too-large');
    expect(decodeFrame(f, { maxElements: 15, maxRank: 2 }).data.length).toBe(15);
  });

  it('detects any single corrupted byte', () => {
    const frames = valid();
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (which, pos, mask) => {
          const f = frames[which].slice();
          const at = pos % f.length;
          f[at] ^= mask;
          const code = codeOf(() => decodeFrame(f));
          expect(code).not.toBe('no error');
          // past the header, only the checksum can notice
          if (at >= 16) expect(code).toBe('bad-crc');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects a shape that disagrees with the payload', () => {
    const f = encodeFrame(sample([2, 3]), { encoding: 'int8', granularity: 'tensor' });
    const withDim = (d: number) => {
      const g = f.slice();
      new DataView(g.buffer).setUint32(12, d, true);
      return fixCrc(g);
    };
    expect(codeOf(() => decodeFrame(withDim(4)))).toBe('truncated');
    expect(codeOf(() => decodeFrame(withDim(2)))).toBe('length-mismatch');
    expect(codeOf(() => decodeFrame(withDim(0)))).toBe('bad-dimension');
  });

  it('rejects zero, negative, NaN, infinite and overflowing bf16 scales, and nonzero padding (CRC intact)', () => {
    for (const encoding of INT_ENCODINGS) {
      for (const granularity of GRANULARITIES) {
        // the bf16 at 16..17; 'token': 3 codes at 18..20 and a padding byte at
        // 21; 'tensor': padding at 18..19
        const f = encodeFrame(sample([3, 5]), { encoding, granularity });
        const bits = BITS[encoding] as 8 | 4 | 2;
        const cap = maxScale(bits);
        // BFLOAT16_MAX = 0x7F7F; dividing by 2^(bits-1) lowers the exponent field
        const capBits = 0x7f7f - ((bits - 1) << 7);
        expect(bfloat16Value(capBits)).toBe(cap);
        expect(cap * 2 ** (bits - 1)).toBe(BFLOAT16_MAX);
        const patched = (at: number, h: number, width: 1 | 2 = 2) => {
          const g = f.slice();
          if (width === 2) new DataView(g.buffer).setUint16(at, h, true);
          else g[at] = h;
          return fixCrc(g);
        };
        const label = `${encoding} ${granularity}`;
        // zero, -0, -1, -smallest subnormal, NaNs, ±Inf, the largest bf16, one ulp over the cap
        for (const h of [
          0x0000,
          0x8000,
          0xbf80,
          0x8001,
          0x7fc0,
          0x7f81,
          0xffc0,
          0x7f80,
          0xff80,
          0x7f7f,
          capBits + 1,
        ]) {
          expect(
            codeOf(() => decodeFrame(patched(16, h))),
            `${label} scale 0x${h.toString(16)}`,
          ).toBe('bad-scale');
        }
        // the largest accepted scale and the smallest subnormal one decode to finite values
        for (const h of [capBits, 0x0001]) {
          const out = decodeFrame(patched(16, h)).data;
          expect(out.every(Number.isFinite)).toBe(true);
        }
        // even the unused code -2^(bits-1) times the cap is finite
        expect(Number.isFinite(Math.fround(-(2 ** (bits - 1)) * cap))).toBe(true);
        expect(Math.fround(-(2 ** (bits - 1)) * bfloat16Value(capBits + 1))).toBe(Number.NEGATIVE_INFINITY);
        const padding = granularity === 'tensor' ? [18, 19] : [21];
        for (const at of padding) {
          for (const b of [0x01, 0x80, 0xff]) {
            expect(
              codeOf(() => decodeFrame(patched(at, b, 1))),
              `${label} padding ${at}`,
            ).toBe('bad-scale');
          }
        }
        if (granularity === 'token') {
          // any code is a valid scale under a normal reference, down to R·2^-15.9
          for (const c of [0, 1, 128, MAX_TOKEN_SCALE_CODE]) {
            const out = decodeFrame(patched(19, c, 1)).data;
            expect(out.every(Number.isFinite)).toBe(true);
          }
          // even the least reference times the least factor stays a positive scale
          expect(tokenScale(bfloat16Value(0x0001), MAX_TOKEN_SCALE_CODE)).toBe(2 ** -149);
        }
      }
    }
  });

  it('writes a bf16 scale, the least token codes that clip nothing, and zero padding, whatever the data', () => {
    fc.assert(
      fc.property(
        tensorArb(valueArb),
        fc.constantFrom(...INT_ENCODINGS),
        fc.constantFrom(...GRANULARITIES),
        (t, encoding, granularity) => {
          const f = encodeFrame(t, { encoding, granularity });
          const n = nScales(t.shape, encoding, granularity);
          const { at, reference } = scaleFieldsOf(f, t.shape);
          expect(isBfloat16(reference)).toBe(true);
          const used = granularity === 'tensor' ? 2 : 2 + n;
          for (let i = at + used; i < at + scaleBytes(n, granularity); i++) expect(f[i]).toBe(0);
          if (granularity === 'tensor') return;
          const last = t.shape[t.shape.length - 1];
          const qmax = QMAX[encoding];
          for (let g = 0; g < n; g++) {
            const c = f[at + 2 + g];
            const ideal =
              t.data.subarray(g * last, (g + 1) * last).reduce((m, x) => Math.max(m, Math.abs(x)), 0) / qmax;
            if (ideal === 0) expect(c).toBe(0);
            else if (ideal < reference && c < MAX_TOKEN_SCALE_CODE) {
              // the next code would clip
              expect(tokenScale(reference, c + 1)).toBeLessThan(ideal);
            }
          }
        },
      ),
    );
  });

  it('rejects the code below -q (-128, -8, -2) at every position, and decodes ±q (CRC intact)', () => {
    /** Writes the `bits`-wide two's complement `code` of element `i` into the packed payload. */
    const setCode = (f: Uint8Array, numel: number, bits: number, i: number, code: number) => {
      const g = f.slice();
      const payload = g.length - 4 - Math.ceil((numel * bits) / 8);
      const at = payload + Math.floor((i * bits) / 8);
      const shift = (i * bits) % 8;
      const mask = ((1 << bits) - 1) << shift;
      g[at] = (g[at] & ~mask) | ((code << shift) & mask);
      return fixCrc(g);
    };
    for (const encoding of INT_ENCODINGS) {
      const bits = BITS[encoding];
      const q = QMAX[encoding];
      for (const granularity of GRANULARITIES) {
        // 15 elements: an odd count, so int4 and int2 end in a partly used byte
        const shape = [3, 5];
        const f = encodeFrame(sample(shape), { encoding, granularity });
        for (let i = 0; i < 15; i++) {
          const label = `${encoding} ${granularity} element ${i}`;
          expect(
            codeOf(() => decodeFrame(setCode(f, 15, bits, i, -(q + 1)))),
            label,
          ).toBe('code-out-of-range');
          for (const code of [-q, q]) {
            const { data } = decodeFrame(setCode(f, 15, bits, i, code));
            const s = scalesOf(f, shape, encoding, granularity)[
              granularity === 'tensor' ? 0 : Math.floor(i / 5)
            ];
            expect(data[i], label).toBe(Math.fround(code * s));
          }
        }
      }
    }
  });

  it('an int8 frame of all -128 codes is refused, not decoded to -128·s', () => {
    const f = encodeFrame(sample([2, 4]), { encoding: 'int8', granularity: 'tensor' });
    f.fill(0x80, f.length - 4 - 8, f.length - 4);
    const err = (() => {
      try {
        decodeFrame(fixCrc(f));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FrameError);
    expect((err as FrameError).code).toBe('code-out-of-range');
    expect((err as FrameError).message).toMatch(/^code-out-of-range: element 0 has code -128/);
  });

  it('rejects NaN and infinities in fp32 and fp16 payloads (CRC intact)', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const f = encodeFrame(sample([4]), { encoding: 'fp32' });
      new DataView(f.buffer).setFloat32(12 + 8, v, true);
      expect(codeOf(() => decodeFrame(fixCrc(f)))).toBe('non-finite');
    }
    for (const h of [0x7c00, 0xfc00, 0x7e00, 0x7c01]) {
      const f = encodeFrame(sample([4]), { encoding: 'fp16' });
      new DataView(f.buffer).setUint16(12 + 6, h, true);
      expect(codeOf(() => decodeFrame(fixCrc(f)))).toBe('non-finite');
    }
  });

  it('rejects astronomically large shapes from the header alone', () => {
    const hostile = (rank: number, dim: number, extra = 4) => {
      const b = new Uint8Array(8 + 4 * rank + extra);
      b.set([0x53, 0x46, 0x4c, 0x46, FRAME_VERSION, 0, 1, rank]);
      for (let k = 0; k < rank; k++) new DataView(b.buffer).setUint32(8 + 4 * k, dim, true);
      return b;
    };
    // The claimed sizes are 2^64 and 2^256 elements: anything proportional to
    // them would not return, so getting the code back at all is the check.
    expect(codeOf(() => decodeFrame(hostile(2, 0xffffffff)))).toBe('too-large');
    expect(codeOf(() => readFrameHeader(hostile(8, 0xffffffff)))).toBe('too-large');
    expect(codeOf(() => decodeFrame(hostile(1, 2 ** 26 + 1)))).toBe('too-large');
    // exactly at the limit it is merely a short frame
    expect(codeOf(() => decodeFrame(hostile(1, 2 ** 26)))).toBe('truncated');
    expect(codeOf(() => decodeFrame(hostile(3, 1024), { maxElements: 2 ** 20 }))).toBe('too-large');
  });

  it('random bytes either decode or throw a FrameError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        codeOf(() => decodeFrame(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('random bodies behind a plausible header either decode to finite values or throw a FrameError', () => {
    const arb = fc
      .record({
        enc: fc.integer({ min: 0, max: 5 }),
        gran: fc.integer({ min: 0, max: 2 }),
        shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }),
        slack: fc.integer({ min: -2, max: 2 }),
        fix: fc.boolean(),
        seed: fc.integer(),
      })
      .map(({ enc, gran, shape, slack, fix, seed }) => {
        // Size the body as the header implies (when it implies anything), so most
        // cases get past the length check and exercise scale and value checks.
        let size = 12 + 4 * shape.length + 16;
        try {
          size = frameSize(shape, ENCODINGS[enc], GRANULARITIES[gran]);
        } catch {}
        const b = new Uint8Array(Math.max(0, size + (fix ? 0 : slack)));
        const rnd = mulberry32(seed);
        for (let i = 0; i < b.length; i++) b[i] = (rnd() * 256) | 0;
        b.set([0x53, 0x46, 0x4c, 0x46, FRAME_VERSION, enc, gran, shape.length].slice(0, b.length));
        const view = new DataView(b.buffer);
        shape.forEach((d, k) => {
          if (8 + 4 * k + 4 <= b.length) view.setUint32(8 + 4 * k, d, true);
        });
        return b.length >= 4 && fix ? fixCrc(b) : b;
      });
    let decoded = 0;
    fc.assert(
      fc.property(arb, (bytes) => {
        const code = codeOf(() => {
          const { data } = decodeFrame(bytes);
          expect(data.every(Number.isFinite)).toBe(true);
        });
        if (code === 'no error') decoded++;
      }),
      { numRuns: 2000 },
    );
    expect(decoded).toBeGreaterThan(0);
  });
});
