// Options the quantizer refuses, with messages that say what to use instead.
import { describe, expect, it } from 'vitest';
import { type QuantizeOptions, quantizeWeights } from '../../../models/quantize/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';

const model = buildVit({ ...REFERENCE_VIT, depth: 1 });

describe('bad options', () => {
  it.each<[string, QuantizeOptions, string]>([
    ['3 bits', { bits: 3 as 8 }, 'bits must be 8 or 4, not 3'],
    [
      'block 24',
      { bits: 4, blockSize: 24 },
      'block size 24 is not supported: use one of 16, 32, 64, 128, 256',
    ],
    ['block 8', { bits: 8, blockSize: 8 }, 'block size 8 is not supported: use one of 16, 32, 64, 128, 256'],
    [
      'negative minElements',
      { bits: 8, minElements: -1 },
      'minElements must be a non-negative integer, not -1',
    ],
  ])('%s', (_label, options, message) => {
    expect(() => quantizeWeights(model, options)).toThrow(message);
  });

  it('does not change the model it was given', () => {
    const before = JSON.stringify(model.toJSON());
    quantizeWeights(model, { bits: 4 });
    expect(JSON.stringify(model.toJSON())).toBe(before);
  });
});
