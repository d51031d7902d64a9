import fc from 'fast-check';
import { split } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { SecAggClient, SecAggError } from '../../../protocol/secagg/client.js';
import { expandMask } from '../../../protocol/secagg/prg.js';
import {
  contributionLimit,
  decodeFixed,
  encodeFixed,
  MODULUS,
  packRing,
  RangeOverflow,
  unpackRing,
} from '../../../protocol/secagg/ring.js';
import { advertise, newSecAgg, postShares, thresholdFor } from '../../../protocol/secagg/server.js';
import { FRACTIONAL_BITS, runRound } from './round.js';

function inputs(n: number, length: number, seed = 1): Map<string, Float64Array> {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  return new Map(
    Array.from({ length: n }, (_, i) => [
      `dev-${String(i).padStart(2, '0')}`,
      Float64Array.from({ length }, () => rand() * 40),
    ]),
  );
}

function plainSum(values: Map<string, Float64Array>, who: readonly string[]): Float64Array {
  const out = new Float64Array(values.values().next().value!.length);
  for (const id of who) {
    const v = values.get(id)!;
    for (let i = 0; i < v.length; i++) out[i] += v[i];
  }
  return out;
}

const ULP = 2 ** -FRACTIONAL_BITS;

describe('the ring', () => {
  it('packs 6 bytes per element and back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { maxLength: 40 }),
        (hi, lo) => {
          const x = Float64Array.from(hi.slice(0, lo.length), (h, i) => h * 2 ** 24 + lo[i]);
          expect([...unpackRing(packRing(x))]).toEqual([...x]);
        },
      ),
    );
  });

  it('encodes signed fixed point and refuses what could wrap the sum', () => {
    const out = new Float64Array(3);
    encodeFixed([1.5, -2.25, 0], 24, 10, out);
    expect(out[1]).toBe(MODULUS - 2.25 * 2 ** 24);
    expect([...decodeFixed(out, 24)]).toEqual([1.5, -2.25, 0]);
    expect(() => encodeFixed([11], 24, 10, out)).toThrow(RangeOverflow);
    expect(() => encodeFixed([Number.NaN], 24, 10, out)).toThrow(RangeOverflow);
    // 10 members each at the limit cannot reach half the ring.
    expect(contributionLimit(10, 24) * 10 * 2 ** 24).toBe(MODULUS / 2);
  });

  it('expands a seed to the same mask however it is chunked', async () => {
    const seed = new Uint8Array(32).fill(7);
    const long = await expandMask(seed, (1 << 18) + 5);
    const short = await expandMask(seed, 10);
    expect([...long.subarray(0, 10)]).toEqual([...short]);
    expect(long.every((v) => Number.isInteger(v) && v >= 0 && v < MODULUS)).toBe(true);
    // Past the first chunk the stream continues rather than restarting.
    expect(long[1 << 18]).not.toBe(long[0]);
  });
});

describe('secure aggregation', () => {
  it('unmasks to the plain sum when nobody drops', async () => {
    const values = inputs(6, 50);
    const { sum, state } = await runRound(values, thresholdFor(6, 0.5));
    expect(state.phase).toBe('done');
    const plain = plainSum(values, [...values.keys()]);
    for (let i = 0; i < plain.length; i++) expect(Math.abs(sum![i] - plain[i])).toBeLessThanOrEqual(6 * ULP);
  });

  it('hides each update: the masked input is unrelated to the value', async () => {
    const values = inputs(4, 200);
    const { masked } = await runRound(values, 3);
    for (const [id, y] of masked) {
      const decoded = decodeFixed(y, FRACTIONAL_BITS);
      const near = decoded.filter((v, i) => Math.abs(v - values.get(id)![i]) < 1).length;
      expect(near).toBeLessThan(5);
    }
  });

  // 9 members, threshold 5: a third (3) drop at each phase in turn.
  for (const phase of ['keys', 'shares', 'masked', 'unmask'] as const) {
    it(`survives a third of the members dropping at the ${phase} phase`, async () => {
      const values = inputs(9, 64, 3);
      const gone = ['dev-01', 'dev-04', 'dev-07'];
      const { sum, state } = await runRound(values, 5, { [phase]: gone });
      expect(state.phase).toBe('done');
      // Who is in the sum: everyone who sent a masked update.
      const inSum =
        phase === 'unmask' ? [...values.keys()] : [...values.keys()].filter((id) => !gone.includes(id));
      expect(state.survivors).toEqual(inSum);
      const plain = plainSum(values, inSum);
      for (let i = 0; i < plain.length; i++)
        expect(Math.abs(sum![i] - plain[i])).toBeLessThanOrEqual(9 * ULP);
    });
  }

  it('survives drops at every phase in one round', async () => {
    const values = inputs(12, 32, 5);
    const { sum, state } = await runRound(values, 6, {
      keys: ['dev-00'],
      shares: ['dev-03'],
      masked: ['dev-05', 'dev-08'],
      unmask: ['dev-11'],
    });
    expect(state.phase).toBe('done');
    const plain = plainSum(values, state.survivors!);
    expect(state.survivors).toHaveLength(8);
    for (let i = 0; i < plain.length; i++) expect(Math.abs(sum![i] - plain[i])).toBeLessThanOrEqual(12 * ULP);
  });

  it('fails the round when fewer than the threshold remain', async () => {
    const values = inputs(6, 8);
    const { state, sum } = await runRound(values, 4, { masked: ['dev-00', 'dev-01', 'dev-02'] });
    expect(state.phase).toBe('failed');
    expect(state.failure).toMatch(/masked closed with 3 of 6 members, fewer than the threshold 4/);
    expect(sum).toBeNull();
  });

  it('never reveals both secrets of one member', async () => {
    const a = await SecAggClient.create('a', 'ctx');
    const b = await SecAggClient.create('b', 'ctx');
    const c = await SecAggClient.create('c', 'ctx');
    const roster = { a: a.keys(), b: b.keys(), c: c.keys() };
    const shares = {
      a: await a.shares(roster, 2),
      b: await b.shares(roster, 2),
      c: await c.shares(roster, 2),
    };
    const inbox = (to: 'a' | 'b' | 'c') =>
      Object.fromEntries(
        Object.entries(shares).flatMap(([from, s]) => (from === to ? [] : [[from, s.shares[to]]])),
      );
    await a.mask([1, 2], ['a', 'b'], inbox('a'), 24);
    // c never shared, so a masked without it; naming c a survivor is refused.
    expect(() => a.unmask(['a', 'c'])).toThrow(SecAggError);
    const reveal = a.unmask(['a']);
    expect(Object.keys(reveal.selfMasks)).toEqual(['a']);
    expect(Object.keys(reveal.maskKeys)).toEqual(['b']);
  });

  it('refuses a share that was tampered with or sealed for another round', async () => {
    const a = await SecAggClient.create('a', 'round-1');
    const b = await SecAggClient.create('b', 'round-1');
    const roster = { a: a.keys(), b: b.keys() };
    const fromB = await b.shares(roster, 2);
    await a.shares(roster, 2);
    const sealed = fromB.shares.a;
    const flipped = `${sealed[0] === 'A' ? 'B' : 'A'}${sealed.slice(1)}`;
    await expect(a.mask([1], ['a', 'b'], { b: flipped }, 24)).rejects.toThrow(/does not open/);
    const other = await SecAggClient.create('b', 'round-2');
    const elsewhere = await other.shares({ a: a.keys(), b: other.keys() }, 2);
    await expect(a.mask([1], ['a', 'b'], { b: elsewhere.shares.a }, 24)).rejects.toThrow(/does not open/);
  });

  it('refuses messages out of turn, from strangers and malformed', async () => {
    const state = newSecAgg('ctx', ['a', 'b', 'c'], 2, { keys: 10, shares: 20, masked: 30, unmask: 40 });
    const a = await SecAggClient.create('a', 'ctx');
    expect(advertise(state, 'z', a.keys())?.reason).toBe('not-a-member');
    expect(advertise(state, 'a', { cipherKey: 'AAAA', maskKey: 'AAAA' })?.reason).toBe('invalid');
    expect(advertise(state, 'a', a.keys())).toBeNull();
    expect(advertise(state, 'a', a.keys())).toBeNull();
    const other = await SecAggClient.create('a', 'ctx');
    expect(advertise(state, 'a', other.keys())?.reason).toBe('conflict');
    expect(postShares(state, 'a', { shares: {} })?.reason).toBe('wrong-phase');
  });

  it('splits byte-wise, so a slice of every share is a share of the slice', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(80));
    const pieces = await split(secret, 5, 3);
    const { combine } = await import('shamir-secret-sharing');
    const slice = (p: Uint8Array) => new Uint8Array([...p.subarray(0, 32), p[80]]);
    expect([...(await combine(pieces.slice(1, 4).map(slice)))]).toEqual([...secret.subarray(0, 32)]);
  });
});
