import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argmaxRows, topKPredictions } from '../../../common/predictions.js';

describe('topKPredictions', () => {
  it('ranks softmax probabilities per row with labels', () => {
    const logits = Float32Array.from([0, Math.log(3), 0, 5, 1, 1]);
    const rows = topKPredictions(logits, [2, 3], 2, ['a', 'b', 'c']);
    expect(rows[0]).toEqual([
      { index: 1, label: 'b', score: expect.closeTo(0.6, 6) },
      { index: 0, label: 'a', score: expect.closeTo(0.2, 6) },
    ]);
    expect(rows[1][0].index).toBe(0);
  });

  it('clamps k, omits missing labels and survives huge logits', () => {
    const rows = topKPredictions(Float32Array.from([1e30, -1e30]), [1, 2], 10);
    expect(rows[0]).toEqual([
      { index: 0, score: 1 },
      { index: 1, score: 0 },
    ]);
  });

  it('agrees with argmax and sums to one over all classes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 48, maxLength: 48 }),
        (batch, classes, pool) => {
          const logits = Float32Array.from(pool.slice(0, batch * classes));
          const rows = topKPredictions(logits, [batch, classes], classes);
          const best = argmaxRows(logits, classes);
          rows.forEach((row, r) => {
            expect(row[0].index).toBe(best[r]);
            expect(row.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 9);
            for (let i = 1; i < row.length; i++)
              expect(row[i - 1].score).toBeGreaterThanOrEqual(row[i].score);
          });
        },
      ),
    );
  });
});
