// A planned federation (config.planning): the coordinator plans each round
// from the devices' last profiles when it opens, tickets carry each device's
// encodings and uplink share, and its session holds its steps to that rate,
// answering 429 `paced` with Retry-After to a device that sends faster.

import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import deepSamples from '../../../artifacts/vit-fashion-deep/samples.json';
import { parseSafetensors } from '../../../common/safetensors.js';
import type { FederationState, JoinAnswer } from '../../../protocol/federation.js';
import { SESSION_PASS_HEADER } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { STEP_CONTENT_TYPE, UPDATE_CONTENT_TYPE } from '../../../protocol/media.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { encodeUpdate } from '../../../protocol/update.js';
import { call, problemOf } from '../helpers.js';
import { seededModel } from '../seeded.js';
import { ADMIN, CONFIG, federation, get, json, round } from './single-device.js';

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

describe('a federation at two cuts, over the routes', () => {
  const DEEP_HEAD = seededModel('vit-fashion-deep')
    .manifest.training!.trainables.filter((t) => t.owner === 'head')
    .map((t) => t.name);
  const TWO_CUTS = {
    ...CONFIG,
    cuts: ['vit-fashion-deep'],
    strategy: { kind: 'fedavg' as const },
    planning: PLANNING,
  };

  it('trains a device at the deeper build when that is the cut it timed, and publishes its head by name', async () => {
    const fid = `cuts-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
    expect((await call('/v1/federations', json('POST', { id: fid, config: TWO_CUTS }, ADMIN))).status).toBe(
      201,
    );
    const enrolled = await call(`/v1/federations/${fid}/devices`, json('POST', { deviceId: 'dev-a' }, ADMIN));
    const device = { authorization: `Bearer ${((await enrolled.json()) as { token: string }).token}` };
    const profile = {
      headMsPerSample: { block1: 2 },
      uplinkBps: 1e6,
      downlinkBps: 4e6,
      rttMs: 20,
      samples: 8,
    };
    const early = await call(`/v1/federations/${fid}/join`, json('POST', { profile }, device));
    expect((await problemOf(early)).type).toMatch(/no-open-round$/);
    expect((await call(`/v1/federations/${fid}/start`, json('POST', {}, ADMIN))).status).toBe(200);

    const ticket = await join(fid, device);
    expect(ticket).toMatchObject({ modelId: 'vit-fashion-deep', cut: 'block1', uplink: 'int4' });
    const head = await call(`/v1/federations/${fid}/adapters/0?model=vit-fashion-deep`, { headers: device });
    expect(head.status).toBe(200);
    const published0 = parseSafetensors(new Uint8Array(await head.arrayBuffer()));
    expect([...published0.keys()].sort()).toEqual([...DEEP_HEAD].sort());

    // A step of block1 activations (the deeper build's cut) at the planned encoding.
    const headers = { ...device, [SESSION_PASS_HEADER]: ticket.sessionPass };
    const step = await call(`/v1/federations/${fid}/rounds/${ticket.round}/steps/0`, {
      method: 'POST',
      headers: { ...headers, 'content-type': STEP_CONTENT_TYPE },
      body: encodeStepRequest({
        activation: encodeFrame(
          { shape: deepSamples.activationShape, data: Float32Array.from(deepSamples.activation) },
          { encoding: ticket.uplink, granularity: 'token' },
        ),
        labels: deepSamples.labels,
      }),
    });
    expect(step.status, await step.clone().text()).toBe(200);
    const trained = Object.fromEntries(
      [...published0].map(([name, t]) => [name, (t.data as Float32Array).map((x) => x * 0.5 + 0.01)]),
    );
    const specs = seededModel('vit-fashion-deep').manifest.training!.trainables.filter(
      (t) => t.owner === 'head',
    );
    const submitted = await call(`/v1/federations/${fid}/rounds/${ticket.round}/submit`, {
      method: 'POST',
      headers: { ...headers, 'content-type': UPDATE_CONTENT_TYPE },
      body: encodeUpdate(trained, specs, {
        sampleCount: deepSamples.labels.length,
        meanLoss: 1,
        accuracy: 0.5,
        steps: 1,
        idempotencyKey: 'cuts-0',
      }),
    });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    // One device: the new version is its update, by name; block 0 and 1's adapters came from its head.
    const all = await call(`/v1/federations/${fid}/adapters/1/all`, { headers: ADMIN });
    const version1 = parseSafetensors(new Uint8Array(await all.arrayBuffer()));
    for (const name of DEEP_HEAD) {
      expect(Array.from(version1.get(name)!.data as Float32Array), name).toEqual(Array.from(trained[name]));
    }
  });

  it('refuses cuts that are not the same model, unknown, unplanned or masked', async () => {
    const create = (config: unknown) =>
      call(
        '/v1/federations',
        json('POST', { id: `cuts-bad-${Math.floor(Math.random() * 1e9)}`, config }, ADMIN),
      );
    const cases: Array<[unknown, number, RegExp]> = [
      [{ ...TWO_CUTS, cuts: ['vit-mnist'] }, 400, /bad-request$/],
      [{ ...TWO_CUTS, cuts: ['no-such-model'] }, 404, /unknown-model$/],
      [{ ...TWO_CUTS, cuts: ['vit-fashion-deep', 'vit-fashion-deep'] }, 400, /bad-request$/],
      [{ ...TWO_CUTS, planning: undefined }, 400, /bad-request$/],
      [{ ...TWO_CUTS, clientsPerRound: 3, quorum: 3, secureAggregation: {} }, 400, /bad-request$/],
      [{ ...TWO_CUTS, planning: { ...PLANNING, minDepth: 5 } }, 400, /bad-request$/],
    ];
    for (const [config, status, type] of cases) {
      const res = await create(config);
      expect(res.status, JSON.stringify(config)).toBe(status);
      expect((await problemOf(res)).type).toMatch(type);
    }
  });
});
