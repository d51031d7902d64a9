import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../../client-sdk/trainer/submit.js';
import { decodeSafetensors, encodeSafetensors, parseSafetensors } from '../../../common/safetensors.js';
import { SubmitInput } from '../../../durable-objects/coordinator/inputs.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import {
  decodeMaskedUpdate,
  decodeUpdate,
  encodeMaskedUpdate,
  encodeUpdate,
  MASKED_TENSOR,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  readTrainables,
  UPDATE_LIMITS,
  UpdateError,
  type UpdateErrorCode,
  type UpdateMetadata,
} from '../../../protocol/update.js';

const spec = (name: string, shape: number[], owner: 'head' | 'tail' = 'head'): TrainableSpec => ({
  name,
  shape,
  owner,
  role: 'full',
  base: name,
});
const SPECS = [spec('a', [2, 3]), spec('b', [4])];
const VALUES = { a: Float32Array.from([1, -2, 3.5, 0, 1e-3, -7]), b: Float32Array.from([0.25, 8, -1, 2]) };
const META: UpdateMetadata = {
  sampleCount: 40,
  meanLoss: 0.1 + 0.2,
  accuracy: 0.75,
  steps: 5,
  idempotencyKey: 'fed-1/3/device-7/0123456789abcdef',
};
const valid = () => encodeUpdate(VALUES, SPECS, META);

function codeOf(fn: () => unknown): UpdateErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    if (e instanceof UpdateError) return e.code;
    throw e;
  }
  return 'no error';
}

/** A safetensors file from a header given as a JSON value (or raw text) and a data buffer. */
function file(header: unknown, data: Uint8Array, raw?: string): Uint8Array {
  const json = new TextEncoder().encode(raw ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A header's entries, loosely typed: the tests write whatever they like into them. */
type Header = Record<string, Record<string, unknown>>;

function headerOf(bytes: Uint8Array): { header: Header; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))),
    data: bytes.slice(8 + n),
  };
}

/** The file with its header edited (and its length field rewritten); the data buffer is kept. */
function rewrite(bytes: Uint8Array, edit: (header: Header) => void, data?: Uint8Array): Uint8Array {
  const parsed = headerOf(bytes);
  edit(parsed.header);
  return file(parsed.header, data ?? parsed.data);
}

const withMeta = (patch: Record<string, unknown>) =>
  rewrite(valid(), (h) => {
    h.__metadata__ = { ...h.__metadata__, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete h.__metadata__[k];
  });
const withEntry = (name: string, patch: Record<string, unknown>) =>
  rewrite(valid(), (h) => {
    h[name] = { ...h[name], ...patch };
  });
const withFloat = (index: number, value: number) => {
  const bytes = valid();
  // 'a' comes first in the data buffer
  const dataStart = bytes.length - 40;
  new DataView(bytes.buffer).setFloat32(dataStart + 4 * index, value, true);
  return bytes;
};

describe('round trip', () => {
  it('decodes what it encodes: tensors, metadata, and the wire strings String(x)', () => {
    const bytes = valid();
    const { metadata, tensors } = decodeUpdate(bytes);
    expect(metadata).toEqual(META);
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    expect(tensors.get('a')).toEqual(VALUES.a);
    expect(tensors.get('b')).toEqual(VALUES.b);
    expect(decodeUpdate(bytes, UPDATE_LIMITS, SPECS).tensors.get('b')).toEqual(VALUES.b);
    expect(decodeSafetensors(bytes).metadata).toEqual({
      sampleCount: '40',
      meanLoss: '0.30000000000000004',
      accuracy: '0.75',
      steps: '5',
      idempotencyKey: META.idempotencyKey,
    });
    // the same input gives the same bytes, whatever the spec order
    expect(encodeUpdate(VALUES, [...SPECS].reverse(), META)).toEqual(bytes);
  });

  it('reads back any metadata and values exactly', () => {
    fc.assert(
      fc.property(
        fc.record({
          sampleCount: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          meanLoss: fc.double({ min: 0, max: 1e300, noNaN: true }),
          accuracy: fc.double({ min: 0, max: 1, noNaN: true }),
          steps: fc.nat(),
          idempotencyKey: fc.string({ minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH }),
        }),
        fc.float32Array({ minLength: 6, maxLength: 6, noNaN: true, noDefaultInfinity: true }),
        (meta, a) => {
          const out = decodeUpdate(encodeUpdate({ ...VALUES, a }, SPECS, meta));
          // -0 is written "0"
          expect(out.metadata).toEqual({ ...meta, meanLoss: meta.meanLoss + 0 });
          expect(Array.from(out.tensors.get('a')!)).toEqual(Array.from(a));
        },
      ),
    );
  });

  it('holds a side without trainables: metadata only, or no bytes at all for readTrainables', () => {
    const bytes = encodeUpdate({}, [], META);
    expect(decodeUpdate(bytes, UPDATE_LIMITS, []).tensors.size).toBe(0);
    expect(readTrainables(new Uint8Array(0), []).size).toBe(0);
    expect(codeOf(() => readTrainables(new Uint8Array(0), SPECS))).toBe('truncated');
  });

  it('readTrainables skips only the names it is told to ignore', () => {
    const all = encodeUpdate(VALUES, SPECS, META);
    const tail = [spec('b', [4], 'tail')];
    expect(codeOf(() => readTrainables(all, tail))).toBe('unknown-tensor');
    expect(readTrainables(all, tail, { ignore: ['a'] }).get('b')).toEqual(VALUES.b);
  });
});

// One case per code: the Record makes the compiler insist that every code has one.
const CASES: Record<UpdateErrorCode, () => unknown> = {
  truncated: () => decodeUpdate(new Uint8Array(7)),
  'header-too-large': () =>
    decodeUpdate(file({}, new Uint8Array(0), `{}${' '.repeat(UPDATE_LIMITS.maxHeaderBytes)}`)),
  'bad-json': () => decodeUpdate(file(null, new Uint8Array(0), '{"a": ')),
  'header-not-object': () => decodeUpdate(file([1, 2], new Uint8Array(0))),
  'bad-metadata': () => decodeUpdate(withMeta({ sampleCount: '0' })),
  'too-many-tensors': () => decodeUpdate(valid(), { ...UPDATE_LIMITS, maxTensors: 1 }),
  'bad-entry': () => decodeUpdate(withEntry('a', { extra: 1 })),
  'unknown-dtype': () => decodeUpdate(withEntry('a', { dtype: 'F16' })),
  'bad-shape': () => decodeUpdate(withEntry('a', { shape: [2, -3] })),
  'bad-offsets': () => decodeUpdate(withEntry('a', { data_offsets: [-8, 16] })),
  'size-mismatch': () => decodeUpdate(withEntry('a', { shape: [2, 2] })),
  overlap: () => decodeUpdate(withEntry('b', { data_offsets: [20, 36] })),
  gap: () => decodeUpdate(withEntry('b', { data_offsets: [28, 44] }), UPDATE_LIMITS),
  'out-of-bounds': () => decodeUpdate(rewrite(valid(), () => {}, new Uint8Array(36))),
  'trailing-bytes': () => decodeUpdate(rewrite(valid(), () => {}, new Uint8Array(44))),
  'too-large': () => decodeUpdate(valid(), { ...UPDATE_LIMITS, maxBytes: 100 }),
  'missing-metadata': () => decodeUpdate(encodeSafetensors(new Map())),
  'not-float32': () =>
    decodeUpdate(
      rewrite(valid(), (h) => {
        h.b.dtype = 'I32';
      }),
    ),
  'non-finite': () => decodeUpdate(withFloat(3, Number.NaN)),
  'unknown-tensor': () => decodeUpdate(valid(), UPDATE_LIMITS, [SPECS[0]]),
  'missing-tensor': () => decodeUpdate(valid(), UPDATE_LIMITS, [...SPECS, spec('c', [1])]),
  'wrong-shape': () => decodeUpdate(valid(), UPDATE_LIMITS, [spec('a', [3, 2]), SPECS[1]]),
  'not-ring': () =>
    decodeMaskedUpdate(
      encodeSafetensors(
        new Map([[MASKED_TENSOR, { dtype: 'int64', dims: [1], data: BigInt64Array.of(2n ** 48n) }]]),
        { sampleCount: '1', meanLoss: '0', accuracy: '0', steps: '1', idempotencyKey: 'k' },
      ),
      1,
    ),
};

describe('masked updates', () => {
  it('carry ring elements and the metadata, exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 48 - 1 }), { minLength: 1, maxLength: 30 }),
        (xs) => {
          const masked = Float64Array.from(xs);
          const out = decodeMaskedUpdate(encodeMaskedUpdate(masked, META), xs.length);
          expect([...out.masked]).toEqual(xs);
          expect(out.metadata).toEqual(META);
        },
      ),
    );
  });

  it('refuse another length, plain tensors beside the masked one and values outside the ring', () => {
    const bytes = encodeMaskedUpdate(Float64Array.of(1, 2, 3), META);
    expect(codeOf(() => decodeMaskedUpdate(bytes, 4))).toBe('wrong-shape');
    expect(codeOf(() => decodeMaskedUpdate(valid(), 3))).toBe('unknown-tensor');
    expect(codeOf(() => encodeMaskedUpdate(Float64Array.of(-1), META))).toBe('not-ring');
    expect(codeOf(() => encodeMaskedUpdate(Float64Array.of(0.5), META))).toBe('not-ring');
  });
});

describe('refusals', () => {
  it.each(Object.entries(CASES))('%s has a case that yields exactly that code', (code, run) => {
    expect(codeOf(run)).toBe(code);
    // the message leads with the code, once
    try {
      run();
    } catch (e) {
      expect((e as Error).message.startsWith(`${code}: `)).toBe(true);
      expect((e as Error).message.startsWith(`${code}: ${code}`)).toBe(false);
    }
  });

  it('refuses negative, fractional, reversed and malformed data_offsets', () => {
    for (const offsets of [
      [-24, 0],
      [-1, 23],
      [0.5, 24.5],
      [0, 24.000001],
      [24, 0],
      [0, 2 ** 53],
      [0],
      [0, 24, 40],
      ['0', '24'],
      null,
      { begin: 0, end: 24 },
    ]) {
      expect(
        codeOf(() => decodeUpdate(withEntry('a', { data_offsets: offsets }))),
        JSON.stringify(offsets),
      ).toBe('bad-offsets');
    }
  });

  it('refuses overlaps, gaps, out-of-bounds and trailing bytes', () => {
    // a: [0, 24), b: [24, 40) in a 40-byte buffer
    const offsets = (a: number[], b: number[], dataBytes = 40) =>
      codeOf(() =>
        decodeUpdate(
          rewrite(
            valid(),
            (h) => {
              h.a.data_offsets = a;
              h.b.data_offsets = b;
            },
            new Uint8Array(dataBytes),
          ),
        ),
      );
    expect(offsets([0, 24], [24, 40])).toBe('no error');
    // b inside a, sharing a's end or start or neither; a starting inside b
    expect(offsets([0, 24], [8, 24])).toBe('overlap');
    expect(offsets([0, 24], [0, 16])).toBe('overlap');
    expect(offsets([0, 24], [4, 20])).toBe('overlap');
    expect(offsets([16, 40], [0, 16])).toBe('no error');
    expect(offsets([12, 36], [0, 16])).toBe('overlap');
    // holes: at the start, between, and at the end
    expect(offsets([16, 40], [0, 16], 44)).toBe('trailing-bytes');
    expect(offsets([4, 28], [28, 44], 44)).toBe('gap');
    expect(offsets([0, 24], [28, 44], 44)).toBe('gap');
    expect(offsets([0, 24], [24, 40], 48)).toBe('trailing-bytes');
    // past the end of the file
    expect(offsets([0, 24], [24, 40], 39)).toBe('out-of-bounds');
    expect(offsets([0, 24], [24, 40], 0)).toBe('out-of-bounds');
  });

  it('refuses a header that is too long, runs past the file or is not a JSON object', () => {
    const lengthField = (n: bigint, rest = 16) => {
      const b = new Uint8Array(8 + rest);
      new DataView(b.buffer).setBigUint64(0, n, true);
      b.fill(0x20, 8);
      return b;
    };
    expect(codeOf(() => decodeUpdate(lengthField(2n ** 64n - 1n)))).toBe('header-too-large');
    expect(codeOf(() => decodeUpdate(lengthField(2n ** 53n + 1n)))).toBe('header-too-large');
    expect(codeOf(() => decodeUpdate(lengthField(BigInt(UPDATE_LIMITS.maxHeaderBytes + 1))))).toBe(
      'header-too-large',
    );
    expect(codeOf(() => decodeUpdate(lengthField(17n)))).toBe('truncated');
    expect(codeOf(() => decodeUpdate(new Uint8Array(0)))).toBe('truncated');
    // the generic reader's bound is the reference implementation's, 100 MB
    expect(() => parseSafetensors(lengthField(100_000_001n))).toThrow(/^header-too-large/);
    const empty = new Uint8Array(0);
    for (const raw of ['', '{', '{"a":1,}', "{'a': 1}", 'NaN']) {
      expect(
        codeOf(() => decodeUpdate(file(null, empty, raw))),
        raw,
      ).toBe('bad-json');
    }
    const invalidUtf8 = file(null, empty, '{"__metadata__":{"k":"  "}}');
    invalidUtf8.set([0xc3, 0x28], 8 + 22);
    expect(codeOf(() => decodeUpdate(invalidUtf8))).toBe('bad-json');
    for (const raw of ['[]', 'null', '"x"', '42', 'true', ' {}', '\n{}']) {
      expect(
        codeOf(() => decodeUpdate(file(null, empty, raw))),
        raw,
      ).toBe('header-not-object');
    }
    // trailing spaces pad the header, as the format allows
    expect(codeOf(() => decodeUpdate(file(null, empty, '{"__metadata__":{}}    ')))).toBe('bad-metadata');
  });

  it('refuses unknown dtypes, bad shapes, entries of the wrong form and sizes that do not match', () => {
    for (const dtype of ['F16', 'BF16', 'F64', 'f32', '', 4, null]) {
      expect(
        codeOf(() => decodeUpdate(withEntry('a', { dtype }))),
        String(dtype),
      ).toBe('unknown-dtype');
    }
    for (const shape of [[1.5, 4], [-6], [2 ** 53, 1], '6', [[6]], null, { 0: 6 }]) {
      expect(
        codeOf(() => decodeUpdate(withEntry('a', { shape }))),
        JSON.stringify(shape),
      ).toBe('bad-shape');
    }
    for (const shape of [[6], [3, 2], [1, 2, 3]]) {
      // the same element count under another shape is a valid file, the wrong trainable shape
      expect(codeOf(() => decodeUpdate(withEntry('a', { shape }), UPDATE_LIMITS, SPECS))).toBe('wrong-shape');
    }
    for (const shape of [[7], [2, 2], [], [0], [2 ** 40, 2 ** 40]]) {
      expect(
        codeOf(() => decodeUpdate(withEntry('a', { shape }))),
        JSON.stringify(shape),
      ).toBe('size-mismatch');
    }
    const entry = (value: unknown) =>
      rewrite(valid(), (h) => {
        h.a = value as Record<string, unknown>;
      });
    for (const value of [null, 5, 'x', [], { dtype: 'F32', shape: [2, 3] }]) {
      expect(
        codeOf(() => decodeUpdate(entry(value))),
        JSON.stringify(value),
      ).toBe('bad-entry');
    }
  });

  it('refuses a non-finite value anywhere', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const i of [0, 5, 6, 9]) {
        expect(codeOf(() => decodeUpdate(withFloat(i, v)))).toBe('non-finite');
        expect(codeOf(() => readTrainables(withFloat(i, v), SPECS))).toBe('non-finite');
      }
    }
  });

  it('carries the device’s profile as JSON, and refuses one that is not JSON, too long or out of bounds', () => {
    const profile = { headMsPerSample: { embed: 0.4 }, headPeakBytes: { embed: 2 ** 24 }, uplinkBps: 5e6 };
    const encoded = encodeUpdate(VALUES, SPECS, { ...META, profile });
    expect(JSON.parse(decodeSafetensors(encoded).metadata.profile)).toEqual(profile);
    expect(decodeUpdate(encoded).metadata.profile).toEqual(profile);
    expect(decodeUpdate(valid()).metadata).not.toHaveProperty('profile');
    for (const bad of [
      '{"headMsPerSample":',
      JSON.stringify({ headMsPerSample: { embed: -1 } }),
      JSON.stringify({ headMsPerSample: {}, lies: true }),
      JSON.stringify({ headMsPerSample: {}, headPeakBytes: { embed: 1.5 } }),
      JSON.stringify({ headMsPerSample: {}, pad: 'x'.repeat(17 * 1024) }),
      '"a string"',
    ])
      expect(
        codeOf(() => decodeUpdate(withMeta({ profile: bad }))),
        bad.slice(0, 60),
      ).toBe('bad-metadata');
    expect(
      codeOf(() => encodeUpdate(VALUES, SPECS, { ...META, profile: { headMsPerSample: { embed: -1 } } })),
    ).toBe('bad-metadata');
  });

  it('refuses missing or invalid metadata and a key over 128 characters', () => {
    expect(codeOf(() => decodeUpdate(encodeSafetensors(new Map(), {})))).toBe('missing-metadata');
    const noMeta = rewrite(valid(), (h) => {
      delete h.__metadata__;
    });
    expect(codeOf(() => decodeUpdate(noMeta))).toBe('missing-metadata');
    for (const patch of [
      { sampleCount: undefined },
      { meanLoss: undefined },
      { accuracy: undefined },
      { steps: undefined },
      { idempotencyKey: undefined },
      { sampleCount: '0' },
      { sampleCount: '-1' },
      { sampleCount: '1.5' },
      { sampleCount: '9007199254740993' },
      { sampleCount: '0x10' },
      { sampleCount: ' 12' },
      { sampleCount: '+12' },
      { sampleCount: '' },
      { sampleCount: 'Infinity' },
      { meanLoss: 'NaN' },
      { meanLoss: '-0.5' },
      { meanLoss: '1e999' },
      { accuracy: '1.01' },
      { accuracy: '-0.1' },
      { steps: '-1' },
      { steps: '2.5' },
      { idempotencyKey: '' },
      { idempotencyKey: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1) },
      { sampleCount: 40 },
      { steps: null },
    ]) {
      expect(
        codeOf(() => decodeUpdate(withMeta(patch))),
        JSON.stringify(patch),
      ).toBe('bad-metadata');
    }
    // JSON number syntax in full, and keys it does not know, are fine
    expect(decodeUpdate(withMeta({ meanLoss: '1.5e-7', accuracy: '1', extra: 'x' })).metadata).toMatchObject({
      meanLoss: 1.5e-7,
      accuracy: 1,
    });
    expect(
      decodeUpdate(withMeta({ idempotencyKey: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH) })).metadata
        .idempotencyKey,
    ).toHaveLength(128);
    const notStrings = rewrite(valid(), (h) => {
      h.__metadata__ = ['40'] as unknown as Record<string, unknown>;
    });
    expect(codeOf(() => decodeUpdate(notStrings))).toBe('bad-metadata');
  });

  it('any mutation of the header offsets that breaks contiguity is refused, and nothing else is', () => {
    // Tensors of distinct float32 sizes, some possibly empty, encoded validly.
    const arb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }).chain((sizes) => {
      const names = sizes.map((_, i) => `t${i}`);
      const offset = fc.oneof(
        fc.integer({ min: -8, max: 4 * sizes.reduce((a, b) => a + b, 0) + 8 }),
        fc.double({ min: -8, max: 128, noNaN: true }),
        fc.constantFrom(2 ** 53, -0, Number.MAX_SAFE_INTEGER),
      );
      return fc.record({
        sizes: fc.constant(sizes),
        names: fc.constant(names),
        edits: fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('set' as const),
              at: fc.nat(sizes.length - 1),
              begin: offset,
              end: offset,
            }),
            fc.record({
              kind: fc.constant('shift' as const),
              at: fc.nat(sizes.length - 1),
              by: fc.integer({ min: -8, max: 8 }),
            }),
            fc.record({
              kind: fc.constant('swap' as const),
              at: fc.nat(sizes.length - 1),
              with: fc.nat(sizes.length - 1),
            }),
          ),
          { minLength: 1, maxLength: 3 },
        ),
      });
    });
    fc.assert(
      fc.property(arb, ({ sizes, names, edits }) => {
        const specs = names.map((n, i) => spec(n, [sizes[i]]));
        const values = Object.fromEntries(names.map((n, i) => [n, new Float32Array(sizes[i]).fill(i)]));
        const bytes = encodeUpdate(values, specs, META);
        let offsets: [number, number][] = [];
        const mutated = rewrite(bytes, (h) => {
          offsets = names.map((n) => [...(h[n].data_offsets as [number, number])]);
          for (const e of edits) {
            if (e.kind === 'set') offsets[e.at] = [e.begin, e.end];
            else if (e.kind === 'shift') offsets[e.at] = [offsets[e.at][0] + e.by, offsets[e.at][1] + e.by];
            else [offsets[e.at], offsets[e.with]] = [offsets[e.with], offsets[e.at]];
          }
          names.forEach((n, i) => {
            h[n].data_offsets = offsets[i];
          });
        });
        const dataBytes = 4 * sizes.reduce((a, b) => a + b, 0);
        // The model: every range well formed and of its tensor's size, together tiling [0, dataBytes).
        const wellFormed = offsets.every(
          ([b, e], i) =>
            Number.isSafeInteger(b) && Number.isSafeInteger(e) && b >= 0 && e - b === 4 * sizes[i],
        );
        const sorted = [...offsets].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        let covered = 0;
        let tiles = wellFormed;
        for (const [b, e] of sorted) {
          if (b !== covered) tiles = false;
          covered = e;
        }
        tiles &&= covered === dataBytes;
        const code = codeOf(() => decodeUpdate(mutated));
        if (tiles) expect(code).toBe('no error');
        else {
          expect([
            'bad-offsets',
            'size-mismatch',
            'overlap',
            'gap',
            'out-of-bounds',
            'trailing-bytes',
          ]).toContain(code);
          // every reader of the format refuses it, not just updates
          expect(() => parseSafetensors(mutated)).toThrow();
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the encoder', () => {
  it('refuses what the decoder would, with the same codes', () => {
    const enc = (
      values: Record<string, Float32Array>,
      meta: Partial<UpdateMetadata> = {},
      limits = UPDATE_LIMITS,
    ) => codeOf(() => encodeUpdate(values, SPECS, { ...META, ...meta }, limits));
    expect(enc(VALUES)).toBe('no error');
    expect(enc({ ...VALUES, a: Float32Array.from([1, 2, Number.NaN, 4, 5, 6]) })).toBe('non-finite');
    expect(enc({ ...VALUES, b: Float32Array.of(Number.NEGATIVE_INFINITY, 0, 0, 0) })).toBe('non-finite');
    expect(enc({ a: VALUES.a })).toBe('missing-tensor');
    expect(enc({ ...VALUES, b: new Float32Array(5) })).toBe('wrong-shape');
    expect(enc(VALUES, { sampleCount: 0 })).toBe('bad-metadata');
    expect(enc(VALUES, { sampleCount: 2.5 })).toBe('bad-metadata');
    expect(enc(VALUES, { meanLoss: Number.NaN })).toBe('bad-metadata');
    expect(enc(VALUES, { meanLoss: Number.POSITIVE_INFINITY })).toBe('bad-metadata');
    expect(enc(VALUES, { accuracy: 2 })).toBe('bad-metadata');
    expect(enc(VALUES, { steps: -1 })).toBe('bad-metadata');
    expect(enc(VALUES, { idempotencyKey: 'k'.repeat(129) })).toBe('bad-metadata');
    expect(enc(VALUES, {}, { ...UPDATE_LIMITS, maxBytes: 100 })).toBe('too-large');
    expect(enc(VALUES, {}, { ...UPDATE_LIMITS, maxHeaderBytes: 64 })).toBe('header-too-large');
    expect(enc(VALUES, {}, { ...UPDATE_LIMITS, maxTensors: 1 })).toBe('too-many-tensors');
    expect(() =>
      encodeUpdate({ ...VALUES, a: [1, 2, 3, 4, 5, 6] as unknown as Float32Array }, SPECS, META),
    ).toThrow(TypeError);
  });
});

describe('one set of limits', () => {
  it('is 16 MiB, a 256 KiB header, 1,024 tensors and 128-character keys', () => {
    expect(UPDATE_LIMITS).toEqual({
      maxBytes: 16 * 1024 * 1024,
      maxHeaderBytes: 256 * 1024,
      maxTensors: 1024,
    });
    expect(MAX_IDEMPOTENCY_KEY_LENGTH).toBe(128);
  });

  it('the coordinator takes the same key length and body size as the route', () => {
    const input = {
      deviceId: 'device-1',
      round: 0,
      sampleCount: 4,
      observedSamples: 4,
      head: valid(),
      tail: new Uint8Array(0),
      metrics: {},
      uplinkBytes: 0,
      downlinkBytes: 0,
    };
    expect(SubmitInput.safeParse({ ...input, idempotencyKey: 'k'.repeat(128) }).success).toBe(true);
    expect(SubmitInput.safeParse({ ...input, idempotencyKey: 'k'.repeat(129) }).success).toBe(false);
    expect(SubmitInput.safeParse({ ...input, idempotencyKey: '' }).success).toBe(false);
    const huge = new Uint8Array(UPDATE_LIMITS.maxBytes + 1);
    expect(SubmitInput.safeParse({ ...input, head: huge, idempotencyKey: 'k' }).success).toBe(false);
  });

  it('the SDK never makes a key over the limit', async () => {
    const key = await idempotencyKey('f'.repeat(64), 123456789, 'd'.repeat(64), '0123456789abcdef');
    expect(key.length).toBeLessThanOrEqual(MAX_IDEMPOTENCY_KEY_LENGTH);
    expect(codeOf(() => encodeUpdate(VALUES, SPECS, { ...META, idempotencyKey: key }))).toBe('no error');
  });
});
