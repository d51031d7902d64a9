// A planned federation (config.planning): the coordinator plans each round
// from the devices' last profiles when it opens, tickets carry each device's
// encodings and uplink share, and its session holds its steps to that rate,
// answering 429 `paced` with Retry-After to a device that sends faster.

import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import type { FederationState, JoinAnswer } from '../../../protocol/federation.js';
import { SESSION_PASS_HEADER } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { STEP_CONTENT_TYPE } from '../../../protocol/media.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { call, problemOf } from '../helpers.js';
import { CONFIG, federation, get, json, round } from './single-device.js';

const RATE = 2e5;
const PLANNING = { uplinkBudgetBps: RATE, lambda: 0, minUplinkBits: 4, minDownlinkBits: 8 };

const join = async (fid: string, device: Record<string, string>) => {
  const res = await call(`/v1/federations/${fid}/join`, json('POST', {}, device));
  expect(res.status).toBe(200);
  return (await res.json()) as JoinAnswer;
};

const stepBody = () =>
  encodeStepRequest({
    activation: encodeFrame(
      { shape: samples.activationShape, data: Float32Array.from(samples.activation) },
      { encoding: 'fp32' },
    ),
    labels: samples.labels,
  });

describe('planned rounds', () => {
  it('gives a device without a profile the fixed encodings and the whole budget, and paces its steps', async () => {
    const { fid, device } = await federation({ planning: PLANNING }, 'plan');
    const ticket = await join(fid, device);
    expect(ticket).toMatchObject({ uplink: 'fp32', downlink: 'fp32' });
    expect(ticket.plan).toMatchObject({ share: 1, rateBps: RATE, paced: true });
    const state = await get<FederationState>(`/v1/federations/${fid}`);
    expect(state.currentRound?.plan).toMatchObject({ unprofiled: ['dev-a'] });

    const headers = {
      ...device,
      [SESSION_PASS_HEADER]: ticket.sessionPass,
      'content-type': STEP_CONTENT_TYPE,
    };
    const body = stepBody();
    const post = (seq: number) =>
      call(`/v1/federations/${fid}/rounds/${ticket.round}/steps/${seq}`, { method: 'POST', body, headers });
    const expectedMs = (body.byteLength * 8 * 1000) / RATE;
    expect((await post(0)).status).toBe(200);
    // Past a step's time at the planned rate the bucket is full again: one step goes at once,
    // and the next straight after it must wait for the first one's bytes × 8 / rate.
    await new Promise((r) => setTimeout(r, expectedMs));
    expect((await post(1)).status).toBe(200);
    const early = await post(2);
    expect(early.status).toBe(429);
    const problem = await problemOf(early);
    expect(problem.type).toMatch(/paced$/);
    expect(problem.retryAfterMs).toBeGreaterThan(expectedMs * 0.5);
    expect(problem.retryAfterMs).toBeLessThanOrEqual(expectedMs + 1);
    expect(Number(early.headers.get('retry-after'))).toBe(Math.ceil((problem.retryAfterMs as number) / 1000));
    // Refused, the step did not count: after the wait the same seq is taken.
    await new Promise((r) => setTimeout(r, problem.retryAfterMs as number));
    expect((await post(2)).status).toBe(200);
  });

  it('plans the next round from the profile the device reported', async () => {
    const { fid, device } = await federation({ planning: PLANNING }, 'plan');
    const profile = {
      headMsPerSample: { embed: 0.5 },
      uplinkBps: 1e5,
      downlinkBps: 1e6,
      rttMs: 20,
      samples: 600,
      power: { computeW: 3, radioW: 1 },
    };
    await round(fid, device, 1, 'plan-0', { profile });
    const ticket = await join(fid, device);
    expect(ticket.round).toBe(1);
    // Latency alone, and a link slower than the budget: the narrowest uplink the floor allows,
    // downlink no narrower than its floor; the share is what the device's own link can use.
    expect(ticket.uplink).toBe('int4');
    expect(ticket.downlink).toBe('int8');
    expect(ticket.plan?.share).toBeCloseTo(profile.uplinkBps / RATE, 6);
    expect(ticket.plan?.latencyS).toBeGreaterThan(0);
    expect(ticket.plan?.energyJ).toBeGreaterThan(0);
    const state = await get<FederationState>(`/v1/federations/${fid}`);
    expect(state.currentRound?.plan).toMatchObject({ method: 'exact', unprofiled: [], meetsDeadline: true });
    expect(state.currentRound?.plan?.latencyS).toBeCloseTo(ticket.plan?.latencyS ?? 0, 9);
  });

  it('refuses a planning config out of bounds', async () => {
    for (const planning of [
      { uplinkBudgetBps: 0 },
      { uplinkBudgetBps: 1e6, lambda: -1 },
      { uplinkBudgetBps: 1e6, minUplinkBits: 1 },
      { uplinkBudgetBps: 1e6, surprise: true },
    ]) {
      const res = await call(
        '/v1/federations',
        json(
          'POST',
          { id: `plan-bad-${Math.floor(Math.random() * 1e9)}`, config: { ...CONFIG, planning } },
          { authorization: 'Bearer splitflare-dev-admin-key' },
        ),
      );
      expect(res.status, JSON.stringify(planning)).toBe(400);
    }
  });
});
