import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { addTokenNoise, MAX_TOKEN_NOISE } from '../../../protocol/token-noise.js';

describe('per-token activation noise', () => {
  it("adds noise of σ times each token's own RMS", () => {
    const width = 64;
    const tokens = 400;
    const data = new Float32Array(tokens * width);
    // Tokens of very different scales: 0.01 and 100.
    for (let t = 0; t < tokens; t++)
      for (let i = 0; i < width; i++) data[t * width + i] = (t % 2 ? 100 : 0.01) * (i % 2 ? 1 : -1);
    const clean = data.slice();
    addTokenNoise(data, width, 0.5, mulberry32(1));
    for (const scale of [0.01, 100]) {
      let ss = 0;
      let count = 0;
      for (let t = scale === 100 ? 1 : 0; t < tokens; t += 2) {
        for (let i = 0; i < width; i++) ss += (data[t * width + i] - clean[t * width + i]) ** 2;
        count += width;
      }
      expect(Math.sqrt(ss / count) / scale).toBeCloseTo(0.5, 1);
    }
  });

  it('leaves the activation alone at σ 0 and refuses what is out of range', () => {
    const data = Float32Array.from({ length: 8 }, (_, i) => i);
    addTokenNoise(data, 4, 0, mulberry32(1));
    expect([...data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(() => addTokenNoise(data, 4, -0.1, mulberry32(1))).toThrow(RangeError);
    expect(() => addTokenNoise(data, 4, MAX_TOKEN_NOISE + 1, mulberry32(1))).toThrow(RangeError);
    expect(() => addTokenNoise(data, 3, 0.1, mulberry32(1))).toThrow(RangeError);
  });
});
