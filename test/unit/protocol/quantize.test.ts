import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import {
  BFLOAT16_MAX,
  bfloat16Bits,
  bfloat16Value,
  type CodeBits,
  dequantize,
  FLOAT32_MAX,
  isBfloat16,
  isValidScale,
  MAX_TOKEN_SCALE_CODE,
  maxScale,
  packCodes,
  packedLength,
  qmaxOf,
  quantize,
  scaleFor,
  tokenScale,
  tokenScaleCode,
  tokenScales,
  unpackCodes,
} from '../../../protocol/quantize.js';

const ALL_BITS: CodeBits[] = [8, 4, 2];

function quantizeOne(values: number[], bits: CodeBits, rounding: 'nearest' | 'stochastic', seed = 1) {
  const data = Float32Array.from(values);
  const codes = new Int8Array(data.length);
  const scales = new Float32Array(1);
  const bad = quantize(
    { data, groupSize: data.length, bits, rounding, random: mulberry32(seed), codes },
    scales,
  );
  return { bad, codes, scale: scales[0], data };
}

describe('levels and scales', () => {
  it('uses a symmetric grid: int8 ±127, int4 ±7, int2 ternary ±1', () => {
    expect(ALL_BITS.map(qmaxOf)).toEqual([127, 7, 1]);
  });

  it('converts bf16 bit patterns exactly', () => {
    expect(bfloat16Value(0x3f80)).toBe(1);
    expect(bfloat16Value(0xc000)).toBe(-2);
    expect(bfloat16Value(0x7f7f)).toBe(BFLOAT16_MAX);
    expect(bfloat16Value(0x7f80)).toBe(Number.POSITIVE_INFINITY);
    expect(bfloat16Value(0x0001)).toBe(2 ** -133);
    expect(Object.is(bfloat16Value(0x8000), -0)).toBe(true);
    expect(Number.isNaN(bfloat16Value(0x7fc0))).toBe(true);
    const wrong: number[] = [];
    for (let h = 0; h <= 0xffff; h++) {
      const v = bfloat16Value(h);
      if (Number.isNaN(v)) continue;
      if (!isBfloat16(v) || bfloat16Bits(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    for (const v of [Math.fround(1 + 2 ** -23), 1 + 2 ** -30, 2 ** -149, FLOAT32_MAX, Number.NaN])
      expect(isBfloat16(v)).toBe(false);
  });

  it('rounds the scale up to the least bf16 >= maxabs/qmax, so no in-range value is clipped', () => {
    const magnitude = fc.oneof(
      fc.float({ min: 0, max: Math.fround(1e38), noNaN: true }),
      fc.float({ min: 0, max: Math.fround(1e-36), noNaN: true }),
      fc.integer({ min: 0, max: 1000 }),
    );
    fc.assert(
      fc.property(magnitude, fc.constantFrom(...ALL_BITS), (m, bits) => {
        const s = scaleFor(m, bits);
        expect(isBfloat16(s)).toBe(true);
        expect(isValidScale(s, bits)).toBe(true);
        if (m === 0) {
          expect(s).toBe(1);
          return;
        }
        const ideal = m / qmaxOf(bits);
        expect(s).toBeGreaterThanOrEqual(ideal);
        // the bf16 just below is too small: s is the least candidate
        expect(bfloat16Value(bfloat16Bits(s) - 1)).toBeLessThan(ideal);
      }),
    );
  });

  it('puts the scale on the bf16 grid: 1/127 becomes 0x3C02, and 1 quantizes to 126', () => {
    // float32(1/127) = 0x3C010204: the nonzero low half carries into the top half.
    expect(bfloat16Bits(scaleFor(1, 8))).toBe(0x3c02);
    expect(scaleFor(1, 8)).toBe(1.015625 * 2 ** -7);
    expect(scaleFor(127, 8)).toBe(1); // already a bf16: unchanged
    const { codes, scale } = quantizeOne([1, -1, 0.5], 8, 'nearest');
    expect(scale).toBe(1.015625 * 2 ** -7);
    expect(Array.from(codes)).toEqual([126, -126, 63]);
  });

  it('caps the scale so that every code, even -2^(bits-1), dequantizes finite', () => {
    for (const bits of ALL_BITS) {
      const cap = maxScale(bits);
      expect(isBfloat16(cap)).toBe(true);
      expect(cap * 2 ** (bits - 1)).toBe(BFLOAT16_MAX);
      // the next bf16 up would overflow float32 at the code -2^(bits-1)
      const above = bfloat16Value(bfloat16Bits(cap) + 1);
      expect(Math.fround(above * 2 ** (bits - 1))).toBe(Number.POSITIVE_INFINITY);
      expect(scaleFor(FLOAT32_MAX, bits)).toBe(cap);
      expect(scaleFor(BFLOAT16_MAX, bits)).toBe(cap);
      expect(isValidScale(cap, bits)).toBe(true);
      expect(isValidScale(above, bits)).toBe(false);
      // a float32 that is not a bf16 never comes off the wire
      expect(isValidScale(Math.fround(1 + 2 ** -23), bits)).toBe(false);
      for (const s of [0, -0, -1, Number.NaN, Number.POSITIVE_INFINITY])
        expect(isValidScale(s, bits)).toBe(false);
    }
    // tiny groups still get a positive scale: the smallest bf16 subnormal
    expect(scaleFor(2 ** -149, 8)).toBe(2 ** -133);
    expect(scaleFor(2 ** -126, 2)).toBe(2 ** -126);
  });

  it('matches the straightforward branchy loop code for code', () => {
    // The reference: clamp, then round half away from zero with a branch on the sign.
    const reference = (data: Float32Array, bits: CodeBits) => {
      const qmax = qmaxOf(bits);
      let maxAbs = 0;
      for (const x of data) maxAbs = Math.max(maxAbs, Math.abs(x));
      const s = scaleFor(maxAbs, bits);
      return Int8Array.from(data, (x) => {
        let v = x * (1 / s);
        if (v > qmax) v = qmax;
        else if (v < -qmax) v = -qmax;
        return Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
      });
    };
    const value = fc.oneof(
      fc.float({ noNaN: true, noDefaultInfinity: true }),
      fc.float({ min: -4, max: 4, noNaN: true }),
      fc.integer({ min: -300, max: 300 }).map((k) => k / 2),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...ALL_BITS),
        (xs, bits) => {
          const { codes, data } = quantizeOne(xs, bits, 'nearest');
          expect(Array.from(codes)).toEqual(Array.from(reference(data, bits)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rounds half away from zero', () => {
    const { codes, scale } = quantizeOne([127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49, -126.5], 8, 'nearest');
    expect(scale).toBe(1);
    expect(Array.from(codes)).toEqual([127, 1, -1, 2, -2, 3, -3, 0, -127]);
  });

  it('maps an all-zero group to scale 1 and zero codes', () => {
    for (const rounding of ['nearest', 'stochastic'] as const) {
      const { codes, scale } = quantizeOne([0, -0, 0], 4, rounding);
      expect(scale).toBe(1);
      expect(Array.from(codes)).toEqual([0, 0, 0]);
    }
  });

  it('reports the first non-finite value', () => {
    expect(quantizeOne([1, 2, Number.NaN, Number.POSITIVE_INFINITY], 8, 'nearest').bad).toBe(2);
    expect(quantizeOne([1, Number.NEGATIVE_INFINITY], 2, 'stochastic').bad).toBe(1);
    expect(quantizeOne([1, 2], 4, 'nearest').bad).toBe(-1);
  });

  it('uses one scale per group', () => {
    const data = Float32Array.from([1.2, -2, 0, 0, 70, 7]);
    const codes = new Int8Array(6);
    const scales = new Float32Array(3);
    quantize({ data, groupSize: 2, bits: 4, rounding: 'nearest', random: Math.random, codes }, scales);
    // 2/7 = 1.1428·2^-2 rounds up to the bf16 1.1484375·2^-2 (147/128 · 1/4)
    const s0 = 0.287109375;
    expect(Array.from(scales)).toEqual([s0, 1, 10]);
    expect(Array.from(codes)).toEqual([4, -7, 0, 0, 7, 1]);
    const out = new Float32Array(6);
    dequantize(codes, scales, 2, out);
    expect(Array.from(out)).toEqual([4 * s0, -7 * s0, 0, 0, 70, 10]);
  });
});

describe('token scales', () => {
  const references = fc.oneof(
    fc.constantFrom(1, 2 ** -133, maxScale(8), maxScale(2)),
    fc.float({ min: Math.fround(1e-30), max: Math.fround(1e30), noNaN: true }).map((x) => scaleFor(x, 8)),
  );

  it('code c stands for R · 2^(-c/16): 0 is R, 16 halves it, and the scale falls with every code', () => {
    fc.assert(
      fc.property(references, (r) => {
        expect(tokenScale(r, 0)).toBe(r);
        if (r >= 2 ** -100) expect(tokenScale(r, 16)).toBe(r / 2);
        for (let c = 0; c <= MAX_TOKEN_SCALE_CODE; c++) {
          const s = tokenScale(r, c);
          expect(s).toBeGreaterThan(0);
          // within float32 rounding of the exact power (and subnormal spacing)
          expect(Math.abs(s - r * 2 ** (-c / 16))).toBeLessThanOrEqual(s * 2 ** -23 + 2 ** -149);
          if (c > 0 && r >= 2 ** -100) expect(s).toBeLessThan(tokenScale(r, c - 1));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('picks the largest code whose scale still covers the ideal one', () => {
    fc.assert(
      fc.property(references, fc.double({ min: 2 ** -20, max: 1, noNaN: true }), (r, fraction) => {
        const ideal = r * fraction;
        if (!(ideal > 0)) return;
        const c = tokenScaleCode(r, ideal);
        // brute force: the last code at or above the ideal
        let expected = 0;
        for (let k = 0; k <= MAX_TOKEN_SCALE_CODE; k++) if (tokenScale(r, k) >= ideal) expected = k;
        expect(c).toBe(expected);
        expect(tokenScale(r, c)).toBeGreaterThanOrEqual(ideal);
      }),
      { numRuns: 500 },
    );
  });

  it('takes the tensor-wide reference from the largest token and gives zero tokens code 0', () => {
    const { reference, codes, scales } = tokenScales(Float64Array.from([7, 3.5, 0, 7 / 2 ** 20]), 4);
    expect(reference).toBe(1);
    // 3.5/7 = 2^-1: exactly 16 codes down; 2^-20 is beyond the lowest code, 255
    expect(Array.from(codes)).toEqual([0, 16, 0, MAX_TOKEN_SCALE_CODE]);
    expect(Array.from(scales)).toEqual([1, 0.5, 1, tokenScale(1, MAX_TOKEN_SCALE_CODE)]);
    // all zero: the reference of an all-zero group, 1
    expect(tokenScales(new Float64Array(3), 8).reference).toBe(1);
  });
});

describe('stochastic rounding', () => {
  // Each element draws its own u, so one tensor of N copies of x is N
  // independent draws. A pinned element qmax·s fixes the scale at s = 1/4
  // (exactly: qmax·s / qmax in float32), so x sits at a known fractional
  // position p between the levels k·s and (k+1)·s. The dequantized value is
  // (k+1)·s with probability p, else k·s: mean x, variance s²·p(1-p) <= s²/4.
  // The mean of N draws then has standard error <= s / (2·sqrt(N)); we allow
  // 5 standard errors (a false alarm for a fair coin has probability < 1e-6,
  // and the seeds are fixed anyway). mulberry32's u has a 2^-32 grid, a bias
  // of at most 2^-32·s, far below the tolerance.
  const N = 20_000;
  const s = 0.25;
  const tolerance = (5 * s) / (2 * Math.sqrt(N));
  const cases: [CodeBits, number[]][] = [
    [8, [0.3, -1.13, 5.0625, 31.7, -31.74, 0.01, -0.125]],
    [4, [0.1, -0.6, 1.7, -1.26, 0.875]],
    [2, [0.1, -0.2, 0.03, -0.249, 0.125]],
  ];

  for (const [bits, xs] of cases) {
    it(`is unbiased for int${bits}`, () => {
      const pin = qmaxOf(bits) * s;
      for (const [k, x0] of xs.entries()) {
        for (const seed of [1, 2, 3]) {
          const data = new Float32Array(N + 1).fill(x0);
          data[0] = pin;
          const x = data[1]; // x as float32
          const codes = new Int8Array(N + 1);
          const scales = new Float32Array(1);
          quantize(
            {
              data,
              groupSize: N + 1,
              bits,
              rounding: 'stochastic',
              random: mulberry32(seed * 1000 + k),
              codes,
            },
            scales,
          );
          expect(scales[0]).toBe(s);
          expect(codes[0]).toBe(qmaxOf(bits));
          let sum = 0;
          let offGrid = 0;
          const lo = Math.floor(x / s);
          for (let i = 1; i <= N; i++) {
            // only the two neighbouring levels are ever chosen
            if (codes[i] !== lo && codes[i] !== lo + 1) offGrid++;
            sum += codes[i] * s;
          }
          expect(offGrid).toBe(0);
          expect(Math.abs(sum / N - x)).toBeLessThanOrEqual(tolerance);
        }
      }
    });
  }

  it('the test has power: nearest rounding is measurably biased at the same points', () => {
    const data = new Float32Array(N + 1).fill(0.3);
    data[0] = 127 * s;
    const codes = new Int8Array(N + 1);
    quantize(
      { data, groupSize: N + 1, bits: 8, rounding: 'nearest', random: Math.random, codes },
      new Float32Array(1),
    );
    let sum = 0;
    for (let i = 1; i <= N; i++) sum += codes[i] * s;
    expect(Math.abs(sum / N - data[1])).toBeGreaterThan(10 * tolerance);
  });
});

describe('bit packing', () => {
  const codesArb = (bits: CodeBits) => {
    const q = 2 ** (bits - 1);
    // The full two's complement range, -2^(bits-1) included, must survive packing.
    return fc.array(fc.integer({ min: -q, max: q - 1 }), { minLength: 1, maxLength: 67 });
  };

  for (const bits of ALL_BITS) {
    it(`round-trips int${bits} codes of any (odd) length with zero padding`, () => {
      fc.assert(
        fc.property(codesArb(bits), fc.boolean(), (values, forceOdd) => {
          if (forceOdd && values.length % 2 === 0) values = values.slice(1);
          if (values.length === 0) return;
          const codes = Int8Array.from(values);
          const packed = new Uint8Array(packedLength(codes.length, bits));
          expect(packed.length).toBe(Math.ceil((codes.length * bits) / 8));
          packCodes(codes, bits, packed);
          const usedBits = codes.length * bits;
          if (usedBits % 8 !== 0) expect(packed[packed.length - 1] >>> (usedBits % 8)).toBe(0);
          const back = new Int8Array(codes.length);
          unpackCodes(packed, bits, codes.length, back);
          expect(Array.from(back)).toEqual(values);
        }),
      );
    });
  }

  it('puts element 0 in the low bits', () => {
    const p4 = new Uint8Array(2);
    packCodes(Int8Array.from([1, -1, -8]), 4, p4);
    expect(Array.from(p4)).toEqual([0xf1, 0x08]);
    const p2 = new Uint8Array(2);
    packCodes(Int8Array.from([1, -1, 0, 1, -1]), 2, p2);
    expect(Array.from(p2)).toEqual([0b01_00_11_01, 0b11]);
  });

  it('unpacks from an offset view', () => {
    const buf = new Uint8Array([0xaa, 0xf1, 0x08]);
    const out = new Int8Array(3);
    unpackCodes(buf.subarray(1), 4, 3, out);
    expect(Array.from(out)).toEqual([1, -1, -8]);
  });
});
