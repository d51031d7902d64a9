// Secure aggregation over the real routes: three devices run the protocol
// (protocol/secagg/) against the coordinator in workerd, one of them drops,
// and the published head adapters are the FedAvg of the updates that made it
// into the sum, within the fixed-point rounding.
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { cryptoUniform, gaussian } from '../../../common/random.js';
import { parseSafetensors } from '../../../common/safetensors.js';
import type { JoinAnswer } from '../../../protocol/federation.js';
import { SESSION_PASS_HEADER } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { STEP_CONTENT_TYPE, UPDATE_CONTENT_TYPE } from '../../../protocol/media.js';
import { SecAggClient } from '../../../protocol/secagg/client.js';
import { privatize } from '../../../protocol/secagg/distributed-dp.js';
import type { SecAggStatus } from '../../../protocol/secagg/wire.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { encodeMaskedUpdate, encodeUpdate } from '../../../protocol/update.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, admin, CONFIG, get, json, model, N, training } from './single-device.js';

const HEAD = training.trainables.filter((t) => t.owner === 'head');
const initial = parseSafetensors(model.bytes(training.artifacts.trainables));
const base = (name: string) => initial.get(name)!.data as Float32Array;
const DEVICES = ['dev-a', 'dev-b', 'dev-c'];
const SCALE: Record<string, number> = { 'dev-a': 0.5, 'dev-b': 1.25, 'dev-c': 2 };

const SECURE = {
  ...CONFIG,
  clientsPerRound: 3,
  quorum: 1,
  strategy: { kind: 'fedavg' as const },
  roundDeadlineSeconds: 10,
  secureAggregation: { threshold: 0.6, keysBy: 0.4, sharesBy: 0.6, maskedBy: 0.8 },
};

const DP = { ...SECURE, strategy: { kind: 'dp-fedavg' as const, clip: 0.5, noiseMultiplier: 1e-6 } };

async function federation(config: object = SECURE) {
  const fid = `secagg-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  const created = await admin('/v1/federations', { id: fid, config });
  expect(created.status, await created.clone().text()).toBe(201);
  const tokens: Record<string, Record<string, string>> = {};
  for (const id of DEVICES) {
    const { token } = (await (await admin(`/v1/federations/${fid}/devices`, { deviceId: id })).json()) as {
      token: string;
    };
    tokens[id] = { authorization: `Bearer ${token}` };
  }
  expect((await admin(`/v1/federations/${fid}/start`)).status).toBe(200);
  return { fid, tokens };
}

interface Member {
  id: string;
  headers: Record<string, string>;
  ticket: JoinAnswer;
  client: SecAggClient;
}

async function secagg(fid: string, m: Member, path = '', body?: unknown): Promise<Response> {
  const url = `/v1/federations/${fid}/rounds/${m.ticket.round}/secagg${path}`;
  return body === undefined ? call(url, { headers: m.headers }) : call(url, json('POST', body, m.headers));
}

async function status(fid: string, m: Member): Promise<SecAggStatus> {
  const res = await secagg(fid, m);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as SecAggStatus;
}

async function waitForPhase(fid: string, m: Member, phase: SecAggStatus['phase']): Promise<SecAggStatus> {
  for (;;) {
    const s = await status(fid, m);
    if (s.phase === phase) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function joinAndStep(fid: string, id: string, headers: Record<string, string>): Promise<Member> {
  const joined = await call(`/v1/federations/${fid}/join`, { method: 'POST', headers });
  expect(joined.status).toBe(200);
  const ticket = (await joined.json()) as JoinAnswer;
  const pass = { ...headers, [SESSION_PASS_HEADER]: ticket.sessionPass };
  const step = await call(`/v1/federations/${fid}/rounds/${ticket.round}/steps/0`, {
    method: 'POST',
    body: encodeStepRequest({
      activation: encodeFrame(
        { shape: samples.activationShape, data: Float32Array.from(samples.activation) },
        { encoding: 'fp32' },
      ),
      labels: samples.labels,
    }),
    headers: { 'content-type': STEP_CONTENT_TYPE, ...pass },
  });
  expect(step.status).toBe(200);
  const context = ticket.secureAggregation?.context ?? `${fid}/${ticket.round}`;
  return { id, headers: pass, ticket, client: await SecAggClient.create(id, context) };
}

/** The device's delta (scale · base − base), head trainables in manifest order, times `weight`. */
function deltaOf(id: string, weight: number): Float64Array {
  const out: number[] = [];
  for (const s of HEAD) for (const x of base(s.name)) out.push(weight * (SCALE[id] * x - x));
  return Float64Array.from(out);
}

/** What the device masks: N · delta for FedAvg; for DP-FedAvg the delta clipped and noised as the ticket says. */
function maskedInput(m: Member): Float64Array {
  const dp = m.ticket.secureAggregation!.dp;
  if (!dp) return deltaOf(m.id, N);
  const delta = deltaOf(m.id, 1);
  privatize(delta, dp, gaussian(cryptoUniform()));
  return delta;
}

async function submitMasked(fid: string, m: Member, s: SecAggStatus): Promise<Response> {
  const y = await m.client.mask(
    maskedInput(m),
    s.sharers!,
    s.inbox!,
    m.ticket.secureAggregation!.fractionalBits,
  );
  const body = encodeMaskedUpdate(y, {
    sampleCount: N,
    meanLoss: 1,
    accuracy: 0.5,
    steps: 1,
    idempotencyKey: `${m.id}-masked`,
  });
  return call(`/v1/federations/${fid}/rounds/${m.ticket.round}/secagg/masked`, {
    method: 'POST',
    body,
    headers: { 'content-type': UPDATE_CONTENT_TYPE, ...m.headers },
  });
}

/** Runs round 0 with `drop` leaving at `phase`; answers the published head and who was summed. */
async function roundWithDrop(
  drop: string | null,
  phase: 'masked' | 'unmask' | null,
  config: object = SECURE,
) {
  const { fid, tokens } = await federation(config);
  const members = await Promise.all(DEVICES.map((id) => joinAndStep(fid, id, tokens[id])));
  for (const m of members) expect(m.ticket.secureAggregation?.threshold).toBe(2);
  for (const m of members) expect((await secagg(fid, m, '/keys', m.client.keys())).status).toBe(200);
  for (const m of members) {
    const s = await waitForPhase(fid, m, 'shares');
    expect((await secagg(fid, m, '/shares', await m.client.shares(s.roster!, s.threshold))).status).toBe(200);
  }
  for (const m of members) {
    const s = await waitForPhase(fid, m, 'masked');
    if (phase === 'masked' && m.id === drop) continue;
    const res = await submitMasked(fid, m, s);
    expect(res.status, await res.clone().text()).toBe(202);
  }
  const alive = members.filter((m) => !(phase === 'masked' && m.id === drop));
  for (const m of alive) {
    const s = await waitForPhase(fid, m, 'unmask');
    expect(s.survivors).toEqual(alive.map((a) => a.id));
    if (phase === 'unmask' && m.id === drop) continue;
    expect((await secagg(fid, m, '/unmask', m.client.unmask(s.survivors!))).status).toBe(200);
  }
  let rounds: Array<{
    status: string;
    aggregation: { kept: string[]; bound: number | null; privacy?: { epsilon: number } } | null;
  }> = [];
  for (;;) {
    ({ rounds } = await get<{ rounds: typeof rounds }>(`/v1/federations/${fid}/history`));
    if (rounds[0]?.status !== 'training' && rounds[0]?.status !== 'open') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(rounds[0].status).toBe('published');
  const all = await call(`/v1/federations/${fid}/adapters/1/all`, { headers: ADMIN });
  expect(all.status).toBe(200);
  return {
    head: parseSafetensors(new Uint8Array(await all.arrayBuffer())),
    summed: alive.map((m) => m.id),
    fid,
    record: rounds[0],
  };
}

function expectFedAvg(head: ReturnType<typeof parseSafetensors>, summed: readonly string[]) {
  const mean = summed.reduce((a, id) => a + SCALE[id], 0) / summed.length;
  for (const s of HEAD) {
    const got = head.get(s.name)!.data as Float32Array;
    const want = base(s.name).map((x) => mean * x);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < want.length; i++) {
      err += (got[i] - want[i]) ** 2;
      norm += want[i] ** 2;
    }
    expect(Math.sqrt(err / norm), s.name).toBeLessThan(1e-4);
  }
}

describe('secure aggregation over the routes', () => {
  it('publishes the FedAvg of all three when nobody drops', async () => {
    const { head, summed } = await roundWithDrop(null, null);
    expect(summed).toEqual(DEVICES);
    expectFedAvg(head, summed);
  }, 60_000);

  it('recovers a device that shared its secrets and dropped before its masked update', async () => {
    const { head, summed } = await roundWithDrop('dev-b', 'masked');
    expect(summed).toEqual(['dev-a', 'dev-c']);
    expectFedAvg(head, summed);
  }, 60_000);

  it('unmasks a device that sent its masked update and dropped before revealing', async () => {
    const { head, summed } = await roundWithDrop('dev-c', 'unmask');
    expect(summed).toEqual(DEVICES);
    expectFedAvg(head, summed);
  }, 60_000);

  it('runs DP-FedAvg with the devices clipping and noising their own deltas, and accounts ε', async () => {
    const { head, summed, record } = await roundWithDrop('dev-a', 'masked', DP);
    expect(summed).toEqual(['dev-b', 'dev-c']);
    // The tail is clipped to its share of the bound by the coordinator; the ledger records the round.
    expect(record.aggregation?.bound).toBeCloseTo(0.5 / Math.SQRT2, 12);
    expect(record.aggregation?.privacy?.epsilon).toBeGreaterThan(0);
    // Head: base + Σ clip(δᵢ)/m over the devices in the sum, m the clients per round (3).
    const clipped = summed.map((id) => {
      const d = deltaOf(id, 1);
      const norm = Math.hypot(...d);
      return d.map((v) => (v * Math.min(1, 0.5 / Math.SQRT2 / norm)) / 3);
    });
    let offset = 0;
    let err = 0;
    let norm = 0;
    for (const s of HEAD) {
      const got = head.get(s.name)!.data as Float32Array;
      const b = base(s.name);
      for (let i = 0; i < b.length; i++) {
        const want = clipped.reduce((a, c) => a + c[offset + i], 0);
        err += (got[i] - b[i] - want) ** 2;
        norm += want ** 2;
      }
      offset += b.length;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-3);
  }, 60_000);

  it('answers out-of-turn, foreign and malformed messages with a problem', async () => {
    const { fid, tokens } = await federation();
    const m = await joinAndStep(fid, 'dev-a', tokens['dev-a']);
    const early = await secagg(fid, m, '/shares', { shares: {} });
    expect(early.status).toBe(409);
    expect((await problemOf(early)).type).toBe('urn:splitflare:problem:secagg-phase');
    const bad = await secagg(fid, m, '/keys', { cipherKey: 'AAAA', maskKey: 'AAAA' });
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).type).toBe('urn:splitflare:problem:invalid-secagg');
    const garbage = await secagg(fid, m, '/keys', { cipherKey: '!!', maskKey: 3 });
    expect(garbage.status).toBe(400);
    // A plain update is refused where the sum is masked.
    const plain = encodeUpdate(Object.fromEntries(HEAD.map((s) => [s.name, base(s.name)])), HEAD, {
      sampleCount: N,
      meanLoss: 1,
      accuracy: 0.5,
      steps: 1,
      idempotencyKey: 'plain',
    });
    const submitted = await call(`/v1/federations/${fid}/rounds/0/submit`, {
      method: 'POST',
      body: plain,
      headers: { 'content-type': UPDATE_CONTENT_TYPE, ...m.headers },
    });
    expect(submitted.status).toBe(422);
    expect((await problemOf(submitted)).code).toBe('masked-required');
    // And a masked one where it is not.
    const { fid: open, tokens: t2 } = await federation({ ...CONFIG, clientsPerRound: 3 });
    const other = await joinAndStep(open, 'dev-a', t2['dev-a']);
    expect(other.ticket.secureAggregation).toBeUndefined();
    const notSecure = await call(`/v1/federations/${open}/rounds/0/secagg/masked`, {
      method: 'POST',
      body: encodeMaskedUpdate(new Float64Array(3), {
        sampleCount: N,
        meanLoss: 1,
        accuracy: 0.5,
        steps: 1,
        idempotencyKey: 'masked',
      }),
      headers: { 'content-type': UPDATE_CONTENT_TYPE, ...other.headers },
    });
    expect(notSecure.status).toBe(422);
    expect((await problemOf(notSecure)).code).toBe('not-secure');
    const status404 = await secagg(open, other);
    expect(status404.status).toBe(404);
    const refused = await admin('/v1/federations', {
      id: `${fid}-robust`,
      config: { ...SECURE, strategy: { kind: 'median' } },
    });
    expect(refused.status).toBe(400);
  }, 60_000);
});
