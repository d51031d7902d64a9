import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  float16BitsToFloat32,
  float16ToFloat32Array,
  float32ToFloat16Array,
  float32ToFloat16Bits,
} from '../../../protocol/float16.js';

describe('float32 -> float16', () => {
  it('converts landmark values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65519, 0x7bff], // below the midpoint to 65536
      [65520, 0x7c00], // the midpoint ties to even, which is infinity
      [1e10, 0x7c00],
      [-1e10, 0xfc00],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NEGATIVE_INFINITY, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half of it: tie to even (zero)
      [-(2 ** -25), 0x8000],
      [3 * 2 ** -26, 0x0001], // 0.75 units rounds up
      [3 * 2 ** -25, 0x0002], // 1.5 units: tie to even (2)
      [5 * 2 ** -25, 0x0002], // 2.5 units: tie to even (2)
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half unit rounds into the normals
      [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    ];
    for (const [x, h] of cases) expect(float32ToFloat16Bits(x), `${x}`).toBe(h);
    expect(float32ToFloat16Bits(Number.NaN)).toBe(0x7e00);
    expect(float32ToFloat16Bits(-Number.NaN) & 0x7fff).toBe(0x7e00);
  });

  it('rounds every finite float32 in range to the nearest float16, ties to even', () => {
    const top = Math.fround(65519.99);
    fc.assert(
      fc.property(fc.float({ min: -top, max: top, noNaN: true }), (x) => {
        const h = float32ToFloat16Bits(x);
        const d = float16BitsToFloat32(h);
        const m = h & 0x7fff;
        const sign = h & 0x8000;
        const err = Math.abs(x - d);
        const neighbours = [float16BitsToFloat32(sign | (m + 1))];
        if (m > 0) neighbours.push(float16BitsToFloat32(sign | (m - 1)));
        else neighbours.push(float16BitsToFloat32(sign ^ 0x8001)); // across zero
        for (const n of neighbours) {
          const other = Math.abs(x - n);
          expect(err).toBeLessThanOrEqual(other);
          if (err === other) expect(m & 1).toBe(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('float16 -> float32', () => {
  it('is exact for every float16 bit pattern', () => {
    for (let h = 0; h < 65536; h++) {
      const v = float16BitsToFloat32(h);
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      const sign = h & 0x8000 ? -1 : 1;
      if (exp === 0x1f) {
        if (mant === 0) expect(v).toBe(sign * Number.POSITIVE_INFINITY);
        else expect(v).toBeNaN();
        continue;
      }
      const expected = sign * (exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15));
      expect(Object.is(v, expected), `0x${h.toString(16)}`).toBe(true);
      // and back again to the same bits
      expect(float32ToFloat16Bits(v)).toBe(h);
    }
  });

  it('array conversions agree with the scalar ones and respect views', () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 40 }), fc.nat(3), (src, skip) => {
        const view = src.subarray(Math.min(skip, src.length));
        const halves = float32ToFloat16Array(view);
        expect(halves.length).toBe(view.length);
        view.forEach((x, i) => {
          expect(halves[i]).toBe(float32ToFloat16Bits(x));
        });
        const back = new Float32Array(view.length + 2).subarray(1);
        float16ToFloat32Array(halves, back);
        halves.forEach((h, i) => {
          expect(Object.is(back[i], float16BitsToFloat32(h))).toBe(true);
        });
      }),
    );
    expect(() => float32ToFloat16Array(new Float32Array(3), new Uint16Array(2))).toThrow(RangeError);
    expect(() => float16ToFloat32Array(new Uint16Array(3), new Float32Array(2))).toThrow(RangeError);
  });
});
