import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanNumbers } from '../../../datasets/json-numbers.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('scanNumbers', () => {
  it('reads a flat array under a key', () => {
    const { values, rowLengths } = scanNumbers(bytes('{ "data": [0, 0.2, 0.624, 1] }'));
    expect(Array.from(values)).toEqual([0, 0.2, 0.624, 1].map(Math.fround));
    expect(rowLengths).toEqual([]);
  });

  it('reports the length of every non-empty row and skips empty ones', () => {
    const { values, rowLengths } = scanNumbers(bytes('{"data":[[1,2,3],[],[4,5,6],[]]}'));
    expect(Array.from(values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rowLengths).toEqual([3, 3]);
  });

  it('ignores digits and brackets inside strings', () => {
    const { values } = scanNumbers(bytes('{"a1[2]":"x\\"9]","data":[7]}'));
    expect(Array.from(values)).toEqual([7]);
  });

  it('agrees with JSON.parse on arbitrary doubles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 })),
        (xs) => {
          const { values } = scanNumbers(bytes(JSON.stringify({ data: xs })));
          expect(values.length).toBe(xs.length);
          xs.forEach((x, i) => {
            expect(Math.abs(values[i] - x)).toBeLessThanOrEqual(Math.abs(x) * 1e-6 + 1e-30);
          });
        },
      ),
    );
  });
});
