// The pacer both sides keep (protocol/pacing.ts): whatever the arrivals, the
// bytes it lets through by any moment are at most one largest step plus the
// rate times the time elapsed, a step that waited as long as it was told goes
// through, and a device that paces itself is never refused by a session with
// slack.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pacer } from '../../../protocol/pacing.js';

describe('Pacer', () => {
  it('lets the first step go at once and the next after its bytes at the rate', () => {
    const p = new Pacer(8000); // 1 byte per ms
    expect(p.admit(500, 0)).toBe(0);
    expect(p.admit(500, 100)).toBe(400);
    expect(p.admit(500, 500)).toBe(0);
    expect(p.admit(500, 500)).toBe(500);
  });

  it('never lets more through than one largest step plus rate × time', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e3, max: 1e8, noNaN: true }),
        fc.array(fc.record({ gap: fc.nat(5000), bytes: fc.integer({ min: 1, max: 1e6 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
        (rate, arrivals) => {
          const p = new Pacer(rate);
          let now = 0;
          let sent = 0;
          let largest = 0;
          for (const a of arrivals) {
            now += a.gap;
            largest = Math.max(largest, a.bytes);
            if (p.admit(a.bytes, now) === 0) sent += a.bytes;
            expect(sent).toBeLessThanOrEqual(largest + (rate / 8000) * now + 1e-6);
          }
        },
      ),
    );
  });

  it('admits a step that waited as long as it was told, and a self-paced sender is never refused', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e3, max: 1e8, noNaN: true }),
        fc.array(fc.record({ gap: fc.nat(2000), bytes: fc.integer({ min: 1, max: 1e6 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.nat(200),
        (rate, steps, transit) => {
          const device = new Pacer(rate);
          const session = new Pacer(rate, 250);
          let now = 0;
          for (const s of steps) {
            now += s.gap;
            const wait = device.admit(s.bytes, now);
            if (wait > 0) {
              now += wait;
              expect(device.admit(s.bytes, now)).toBe(0);
            }
            // Transit delays every step alike here; jitter below the slack is absorbed.
            expect(session.admit(s.bytes, now + transit)).toBe(0);
          }
        },
      ),
    );
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new Pacer(0)).toThrow(RangeError);
    expect(() => new Pacer(Number.NaN)).toThrow(RangeError);
  });
});
