// Client-level DP over the real routes inside workerd: a DP-FedAvg
// federation's versions carry Gaussian noise of the configured size, every
// round's history records its sampling rate and the ε spent so far (the
// accountant's figure for that many rounds), and the coordinator finishes the
// federation rather than open a round that would exceed its ε budget.
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../common/safetensors.js';
import type { FederationState, RoundRecord } from '../../../protocol/federation.js';
import { epsilonSpent } from '../../../strategy/index.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, admin, CONFIG, federation, get, round } from './single-device.js';

const CLIP = 0.5;
const Z = 2;
const DELTA = 1e-5;
/** ε after k rounds of this federation: one device of one, so every round samples it. */
const spent = (k: number) =>
  epsilonSpent(
    Array.from({ length: k }, () => ({ samplingRate: 1, noiseMultiplier: Z })),
    DELTA,
  );

async function adapters(fid: string, version: number): Promise<Map<string, Float32Array>> {
  const res = await call(`/v1/federations/${fid}/adapters/${version}/all`, { headers: ADMIN });
  expect(res.status).toBe(200);
  const t = parseSafetensors(new Uint8Array(await res.arrayBuffer()));
  return new Map([...t].map(([k, v]) => [k, v.data as Float32Array]));
}

describe('DP-FedAvg federations', () => {
  it('add noise of z·C/m, record ε after every round, and stop before the budget is exceeded', async () => {
    // Room for two rounds, not three.
    const budget = (spent(2) + spent(3)) / 2;
    const { fid, device } = await federation(
      {
        rounds: 4,
        strategy: { kind: 'dp-fedavg', clip: CLIP, noiseMultiplier: Z, delta: DELTA, epsilonBudget: budget },
        // The noise (z·C per value) is random: a published value past the default ±100 would refuse the next round's update.
        updateBound: { maxAbs: 1e6 },
      },
      'dp',
    );
    await round(fid, device, 1.01, 'r0');
    await round(fid, device, 1.01, 'r1');

    const state = await get<FederationState>(`/v1/federations/${fid}`);
    expect(state.status).toBe('finished');
    expect(state.latestVersion).toBe(2);
    expect(state.privacy).toEqual({
      epsilon: expect.closeTo(spent(2), 9),
      delta: DELTA,
      epsilonBudget: budget,
      exhausted: true,
    });
    const { rounds: history } = await get<{ rounds: RoundRecord[] }>(`/v1/federations/${fid}/history`);
    expect(history.map((r) => r.status)).toEqual(['published', 'published']);
    history.forEach((r, i) => {
      expect(r.aggregation).toMatchObject({ strategy: 'dp-fedavg', bound: CLIP, noiseStd: (Z * CLIP) / 1 });
      expect(r.aggregation?.privacy).toEqual({
        samplingRate: 1,
        noiseMultiplier: Z,
        epsilon: expect.closeTo(spent(i + 1), 9),
        delta: DELTA,
      });
    });

    // The update moved the version by at most C; the rest is the noise, of standard deviation z·C per value.
    const [v0, v1] = [await adapters(fid, 0), await adapters(fid, 1)];
    const diffs = [...v0].flatMap(([name, base]) => [...v1.get(name)!].map((x, i) => x - base[i]));
    expect(diffs.length).toBeGreaterThan(10_000);
    const rms = Math.sqrt(diffs.reduce((s, d) => s + d * d, 0) / diffs.length);
    expect(rms).toBeGreaterThan(0.95 * Z * CLIP);
    expect(rms).toBeLessThan(1.05 * Z * CLIP + CLIP);
  });

  it('refuses a DP configuration without a clip or with no noise', async () => {
    for (const strategy of [
      { kind: 'dp-fedavg', noiseMultiplier: 1 },
      { kind: 'dp-fedavg', clip: 1, noiseMultiplier: 0 },
      { kind: 'dp-fedavg', clip: -1, noiseMultiplier: 1 },
      { kind: 'dp-fedavg', clip: 1, noiseMultiplier: 1, delta: 0.5 },
    ]) {
      const res = await admin('/v1/federations', {
        id: `dp-bad-${Math.floor(Math.random() * 1e9)}`,
        config: { ...CONFIG, strategy },
      });
      expect(res.status, JSON.stringify(strategy)).toBe(400);
      expect((await problemOf(res)).type).toBe('urn:splitflare:problem:bad-request');
    }
  });
});
