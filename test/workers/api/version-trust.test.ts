// Versions an operator can trust, over the real routes inside workerd: an
// evaluation set checked against the model, versions scored at the edge
// (head in shard script 0, the tail through the pipeline) and equal to the
// unsplit model's own logits, rollback and pinning moving what rounds start
// from and what `latest` serves, a device-reported score, and a round whose
// version scores worse than its parent held back by the coordinator's alarm.
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { encodeEvaluationSet } from '../../../protocol/evaluation.js';
import type {
  FederationState,
  JoinAnswer,
  RoundRecord,
  VersionRecord,
} from '../../../protocol/federation.js';
import { SAFETENSORS_CONTENT_TYPE } from '../../../protocol/media.js';
import { problemType } from '../../../protocol/problem.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, admin, federation, get, json, N, round } from './single-device.js';

const SAMPLE_SHAPE = samples.inputShape.slice(1);
const pixels = Float32Array.from(samples.pixels);
/** The unsplit base model's predictions on the samples (onnxruntime-node, recorded with them). */
const basePredictions = Int32Array.from({ length: N }, (_, i) => {
  const row = samples.logits.slice(i * 10, i * 10 + 10);
  return row.indexOf(Math.max(...row));
});

interface VersionsView {
  currentVersion: number;
  latestVersion: number;
  pinned: boolean;
  versions: VersionRecord[];
}

const putSet = (fid: string, bytes: Uint8Array, contentType = SAFETENSORS_CONTENT_TYPE) =>
  call(`/v1/federations/${fid}/evaluation-set`, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': contentType, ...ADMIN },
  });

const setOf = (labels: Int32Array, data: Float32Array = pixels, shape = SAMPLE_SHAPE) =>
  encodeEvaluationSet({ pixels: data, labels }, shape);

async function expectProblem(
  res: Response,
  status: number,
  slug: Parameters<typeof problemType>[0],
  code?: string,
) {
  const problem = await problemOf(res);
  expect({ status: res.status, type: problem.type, code: problem.code }).toEqual({
    status,
    type: problemType(slug),
    code,
  });
}

describe('versions an operator can trust', () => {
  it('scores versions at the edge on a checked held-out set; rollback and pin move what rounds and latest use', async () => {
    const { fid, device } = await federation();
    await round(fid, device, 1.01, 'r0');

    // The set is checked against the model before it is kept.
    await expectProblem(
      await putSet(fid, setOf(basePredictions, pixels, [1, 14, 56])),
      422,
      'invalid-evaluation-set',
      'wrong-shape',
    );
    await expectProblem(
      await putSet(fid, setOf(Int32Array.from(basePredictions, (y, i) => (i === 3 ? 10 : y)))),
      422,
      'invalid-evaluation-set',
      'label-out-of-range',
    );
    const nan = pixels.slice();
    nan[100] = Number.POSITIVE_INFINITY;
    await expectProblem(
      await putSet(fid, setOf(basePredictions, nan)),
      422,
      'invalid-evaluation-set',
      'non-finite',
    );
    await expectProblem(
      await putSet(fid, new TextEncoder().encode('not safetensors')),
      422,
      'invalid-evaluation-set',
      'header-too-large',
    );
    await expectProblem(
      await putSet(fid, setOf(basePredictions), 'application/json'),
      415,
      'unsupported-media-type',
    );
    const anonymous = await call(`/v1/federations/${fid}/evaluation-set`, {
      method: 'PUT',
      body: setOf(basePredictions),
      headers: { 'content-type': SAFETENSORS_CONTENT_TYPE },
    });
    expect(anonymous.status).toBe(401);
    await expectProblem(await admin(`/v1/federations/${fid}/versions/0/evaluate`), 400, 'bad-request');

    const labels = Int32Array.from(samples.labels);
    const given = await putSet(fid, setOf(labels));
    expect(given.status).toBe(201);
    const { digest, samples: kept } = (await given.json()) as { digest: string; samples: number };
    expect(kept).toBe(N);

    // Version 0 scored at the edge equals the unsplit model's logits recorded with the samples.
    const v0 = await admin(`/v1/federations/${fid}/versions/0/evaluate`);
    expect(v0.status).toBe(200);
    const scored0 = ((await v0.json()) as VersionRecord).evaluation!;
    const expectedCorrect = basePredictions.filter((p, i) => p === labels[i]).length;
    let expectedLoss = 0;
    for (let i = 0; i < N; i++) {
      const row = samples.logits.slice(i * 10, i * 10 + 10);
      const max = Math.max(...row);
      expectedLoss += Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max - row[labels[i]];
    }
    expect(scored0).toMatchObject({ samples: N, accuracy: expectedCorrect / N, source: 'edge' });
    expect(scored0.meanLoss).toBeCloseTo(expectedLoss / N, 3);
    expect((await admin(`/v1/federations/${fid}/versions/1/evaluate`)).status).toBe(200);
    await expectProblem(await admin(`/v1/federations/${fid}/versions/9/evaluate`), 404, 'not-found');

    // Roll back to 0: `latest` serves it, and round 1 (which trains from version 1) gives way to round 2 from 0.
    const rolled = (await (
      await admin(`/v1/federations/${fid}/rollback`, { version: 0 })
    ).json()) as VersionsView;
    expect(rolled).toMatchObject({ currentVersion: 0, latestVersion: 1, pinned: false });
    const head = await call(`/v1/models/vit-fashion/versions/${fid}@latest/head`);
    expect(head.headers.get('x-splitflare-version')).toBe(`${fid}@0`);
    await head.arrayBuffer();
    const ticket = (await (
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: device })
    ).json()) as JoinAnswer;
    expect({ round: ticket.round, version: ticket.version }).toEqual({ round: 2, version: 0 });
    const { rounds } = await get<{ rounds: RoundRecord[] }>(`/v1/federations/${fid}/history`);
    expect(rounds.map((r) => [r.round, r.status, r.publishedVersion])).toEqual([
      [0, 'published', 1],
      [1, 'failed', null],
      [2, 'training', null],
    ]);

    // Pinned, a published round no longer moves the current version; unpinned, the next one does.
    expect(
      ((await (await admin(`/v1/federations/${fid}/pin`, { version: 1 })).json()) as VersionsView).pinned,
    ).toBe(true);
    await expectProblem(await admin(`/v1/federations/${fid}/pin`, { version: 7 }), 404, 'not-found');
    await expectProblem(await admin(`/v1/federations/${fid}/pin`, { version: -1 }), 400, 'bad-request');
    await round(fid, device, 1.02, 'r1');
    let view = await get<VersionsView>(`/v1/federations/${fid}/versions`);
    expect(view).toMatchObject({ currentVersion: 1, latestVersion: 2, pinned: true });
    expect(view.versions.map((v) => [v.version, v.status])).toEqual([
      [0, 'published'],
      [1, 'published'],
      [2, 'published'],
    ]);
    expect(view.versions[0].evaluation?.by).toBe(digest);
    await admin(`/v1/federations/${fid}/unpin`);
    await round(fid, device, 1.03, 'r2');
    view = await get<VersionsView>(`/v1/federations/${fid}/versions`);
    expect(view).toMatchObject({ currentVersion: 3, latestVersion: 3, pinned: false });
  });

  it("takes a score from the federation's evaluator device and from no other", async () => {
    const { fid, device } = await federation({ evaluator: 'dev-a' });
    const other = await admin(`/v1/federations/${fid}/devices`, { deviceId: 'dev-b' });
    const { token } = (await other.json()) as { token: string };
    const report = (headers: Record<string, string>, body: unknown) =>
      call(`/v1/federations/${fid}/versions/0/evaluation`, json('POST', body, headers));
    const score = { samples: 500, accuracy: 0.61, meanLoss: 1.1 };
    const res = await report(device, score);
    expect(res.status).toBe(200);
    expect(((await res.json()) as VersionRecord).evaluation).toMatchObject({
      ...score,
      source: 'device',
      by: 'dev-a',
    });
    await expectProblem(await report({ authorization: `Bearer ${token}` }, score), 403, 'forbidden');
    await expectProblem(await report(device, { ...score, accuracy: 1.5 }), 400, 'bad-request');
    // JSON's 1e400 parses to Infinity, which is no loss a device measured.
    const overflow = await call(`/v1/federations/${fid}/versions/0/evaluation`, {
      method: 'POST',
      headers: { ...device, 'content-type': 'application/json' },
      body: '{"samples":500,"accuracy":0.61,"meanLoss":1e400}',
    });
    await expectProblem(overflow, 400, 'bad-request');
  });

  it('holds back a round whose version scores worse than its parent, and publishes one that does not', async () => {
    // The base model's own predictions as labels: version 0 scores 100%.
    const held = await federation({ hold: { margin: 0.1 } });
    expect((await putSet(held.fid, setOf(basePredictions))).status).toBe(201);
    // A zeroed patch embedding: every image looks alike, so the candidate predicts one class.
    await round(held.fid, held.device, 0, 'zeroed');
    let state = await get<FederationState>(`/v1/federations/${held.fid}`);
    expect(state.currentRound).toMatchObject({ round: 0, status: 'evaluating', publishedVersion: 1 });
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(held.fid));
    expect(await runDurableObjectAlarm(coordinator)).toBe(true);

    state = await get<FederationState>(`/v1/federations/${held.fid}`);
    expect(state).toMatchObject({ latestVersion: 1, currentVersion: 0 });
    expect(state.currentRound).toMatchObject({ round: 1, status: 'open' });
    const { rounds } = await get<{ rounds: RoundRecord[] }>(`/v1/federations/${held.fid}/history`);
    expect(rounds[0]).toMatchObject({ status: 'held', publishedVersion: 1 });
    const { versions } = await get<VersionsView>(`/v1/federations/${held.fid}/versions`);
    expect(versions[0].evaluation?.accuracy).toBe(1);
    expect(versions[1].status).toBe('held');
    expect(versions[1].evaluation!.accuracy).toBeLessThan(0.9);
    // The next round trains from the parent, and latest still serves it.
    const ticket = (await (
      await call(`/v1/federations/${held.fid}/join`, { method: 'POST', headers: held.device })
    ).json()) as JoinAnswer;
    expect(ticket.version).toBe(0);

    // The same round with a margin nothing falls below publishes after scoring.
    const lenient = await federation({ hold: { margin: 1 } });
    expect((await putSet(lenient.fid, setOf(basePredictions))).status).toBe(201);
    await round(lenient.fid, lenient.device, 0, 'zeroed');
    const lenientCoordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(lenient.fid));
    expect(await runDurableObjectAlarm(lenientCoordinator)).toBe(true);
    const after = await get<FederationState>(`/v1/federations/${lenient.fid}`);
    expect(after).toMatchObject({ latestVersion: 1, currentVersion: 1 });
    const lenientVersions = await get<VersionsView>(`/v1/federations/${lenient.fid}/versions`);
    expect(lenientVersions.versions[1]).toMatchObject({
      status: 'published',
      evaluation: { source: 'edge' },
    });
  });

  it('publishes a candidate unscored after three failed evaluations rather than stalling', async () => {
    const { fid, device } = await federation({ hold: { margin: 0 } });
    expect((await putSet(fid, setOf(basePredictions))).status).toBe(201);
    await env.MODELS.delete(`evaluation-sets/${fid}`);
    await round(fid, device, 1, 'r0');
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(fid));
    for (const expected of ['evaluating', 'evaluating', 'open']) {
      expect(await runDurableObjectAlarm(coordinator)).toBe(true);
      const state = await get<FederationState>(`/v1/federations/${fid}`);
      expect(state.currentRound?.status).toBe(expected);
    }
    const view = await get<VersionsView>(`/v1/federations/${fid}/versions`);
    expect(view).toMatchObject({ currentVersion: 1, latestVersion: 1 });
    expect(view.versions[1]).toMatchObject({ status: 'published', evaluation: null });
  });
});
