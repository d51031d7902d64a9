// The per-request placement choice (client-sdk/placement.ts): it tries each
// placement twice, then takes the one its measurements expect to be fastest
// (trying a long-unchosen one again now and then); against a ground truth of
// device, link and edge costs its mean latency stays within 10% of the best
// fixed placement's at every link rate from 0.1 to 100 Mbit/s, with
// measurements 5% noisy.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Placement, PlacementChooser } from '../../../client-sdk/placement.js';
import { mulberry32 } from '../../../common/random.js';

const PLACEMENTS: Placement[] = [
  { id: 'device', remote: false, upBytesPerSample: 0, downBytesPerSample: 0 },
  { id: 'embed', remote: true, upBytesPerSample: 1200, downBytesPerSample: 48 },
  { id: 'block1', remote: true, upBytesPerSample: 1200, downBytesPerSample: 48 },
  { id: 'image', remote: true, upBytesPerSample: 800, downBytesPerSample: 48 },
];

interface Truth {
  deviceMs: Record<string, number>;
  edgeMs: Record<string, number>;
  rttMs: number;
  bps: number;
}

const trueMs = (t: Truth, p: Placement, batch: number) =>
  t.deviceMs[p.id] * batch +
  (p.remote
    ? t.rttMs +
      ((p.upBytesPerSample + p.downBytesPerSample) * batch * 8 * 1000) / t.bps +
      t.edgeMs[p.id] * batch
    : 0);

function run(t: Truth, batches: number[], noise: number, seed: number) {
  const random = mulberry32(seed);
  const jitter = () => 1 + noise * (2 * random() - 1);
  const chooser = new PlacementChooser(PLACEMENTS);
  const ratios: number[] = [];
  for (const [i, batch] of batches.entries()) {
    const id = chooser.choose(batch);
    const p = PLACEMENTS.find((x) => x.id === id)!;
    const best = Math.min(...PLACEMENTS.map((x) => trueMs(t, x, batch)));
    if (i >= PLACEMENTS.length) ratios.push(trueMs(t, p, batch) / best);
    const deviceMs = t.deviceMs[id] * batch * jitter();
    const edgeMs = p.remote ? t.edgeMs[id] * batch * jitter() : undefined;
    const bytes = (p.upBytesPerSample + p.downBytesPerSample) * batch;
    chooser.observe(id, {
      batch,
      deviceMs,
      ...(p.remote
        ? { edgeMs, bytes, roundTripMs: (edgeMs ?? 0) + (t.rttMs + (bytes * 8 * 1000) / t.bps) * jitter() }
        : {}),
    });
  }
  return { chooser, ratios };
}

describe('PlacementChooser', () => {
  it('tries every placement twice, then the fastest it expects', () => {
    const truth: Truth = {
      deviceMs: { device: 4, embed: 0.3, block1: 0.8, image: 0 },
      edgeMs: { device: 0, embed: 0.5, block1: 0.4, image: 0.6 },
      rttMs: 40,
      bps: 10e6,
    };
    const { chooser } = run(truth, [8, 8, 8, 8, 8, 8, 8, 8], 0, 1);
    const expected = Object.fromEntries(PLACEMENTS.map((p) => [p.id, chooser.expectedMs(p.id, 8)!]));
    for (const p of PLACEMENTS) expect(expected[p.id]).toBeGreaterThan(0);
    const fastest = PLACEMENTS.reduce((a, b) => (trueMs(truth, a, 8) <= trueMs(truth, b, 8) ? a : b));
    expect(chooser.choose(8)).toBe(fastest.id);
  });

  it('stays within 10% of the best fixed placement from 0.1 to 100 Mbit/s, measurements 5% noisy', () => {
    fc.assert(
      fc.property(
        fc.record({
          device: fc.double({ min: 0.5, max: 50, noNaN: true }),
          head: fc.double({ min: 0.05, max: 5, noNaN: true }),
          edge: fc.double({ min: 0.05, max: 5, noNaN: true }),
          rtt: fc.double({ min: 5, max: 200, noNaN: true }),
          seed: fc.nat(),
        }),
        (r) => {
          for (const mbps of [0.1, 0.3, 1, 3, 10, 30, 100]) {
            const truth: Truth = {
              deviceMs: { device: r.device, embed: r.head, block1: r.head * 2, image: 0 },
              edgeMs: { device: 0, embed: r.edge, block1: r.edge / 2, image: r.edge * 1.2 },
              rttMs: r.rtt,
              bps: mbps * 1e6,
            };
            const batches = Array.from({ length: 120 }, (_, i) => [1, 4, 16][i % 3]);
            const { ratios } = run(truth, batches, 0.05, r.seed);
            // Past the tries, the mean over requests (re-tries of stale placements included).
            const settled = ratios.slice(PLACEMENTS.length * 2);
            expect(settled.reduce((a, b) => a + b, 0) / settled.length).toBeLessThanOrEqual(1.1);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fits the link as a round trip plus a time per byte', () => {
    const chooser = new PlacementChooser(PLACEMENTS);
    for (const bytes of [1e3, 5e3, 2e4, 8e4]) {
      chooser.observe('embed', {
        batch: 1,
        deviceMs: 1,
        edgeMs: 2,
        bytes,
        roundTripMs: 2 + 30 + bytes / 1000,
      });
    }
    const link = chooser.link();
    expect(link.fixedMs).toBeCloseTo(30, 6);
    expect(link.msPerByte).toBeCloseTo(1 / 1000, 9);
  });

  it('needs a placement to choose from', () => {
    expect(() => new PlacementChooser([])).toThrow(RangeError);
  });
});
