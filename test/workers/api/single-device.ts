// A federation of one device over the real routes, for tests that drive whole
// rounds: create, enroll and start; then a round of one step on the recorded
// samples and a head update made from the initial values, scaled.
import { expect } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { parseSafetensors } from '../../../common/safetensors.js';
import type { FederationConfigInput, JoinAnswer } from '../../../protocol/federation.js';
import { SESSION_PASS_HEADER } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { STEP_CONTENT_TYPE, UPDATE_CONTENT_TYPE } from '../../../protocol/media.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { encodeUpdate, type UpdateMetadata } from '../../../protocol/update.js';
import { call } from '../helpers.js';
import { seededModel } from '../seeded.js';

export const ADMIN = { authorization: 'Bearer splitflare-dev-admin-key' };
export const model = seededModel('vit-fashion');
export const training = model.manifest.training!;
const HEAD = training.trainables.filter((t) => t.owner === 'head');
export const N = samples.labels.length;

export const CONFIG: FederationConfigInput = {
  modelId: 'vit-fashion',
  rounds: 4,
  clientsPerRound: 1,
  quorum: 1,
  roundDeadlineSeconds: 3600,
  localEpochs: 1,
  batchSize: N,
  uplink: 'fp32',
  downlink: 'fp32',
  budgetBytesPerRound: 10_000_000,
  headOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0 },
  tailOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0 },
  seed: 3,
};

export const json = (method: string, body: unknown, headers: Record<string, string>) => ({
  method,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});
export const admin = (path: string, body?: unknown) => call(path, json('POST', body ?? {}, ADMIN));
export const get = async <T>(path: string): Promise<T> => {
  const res = await call(path, { headers: ADMIN });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
};

/** A started federation of `CONFIG` (overridden by `config`) with one enrolled device, dev-a. */
export async function federation(config: Partial<FederationConfigInput> = {}, prefix = 'trust') {
  const fid = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  expect((await admin('/v1/federations', { id: fid, config: { ...CONFIG, ...config } })).status).toBe(201);
  const enrolled = await admin(`/v1/federations/${fid}/devices`, { deviceId: 'dev-a' });
  const { token } = (await enrolled.json()) as { token: string };
  expect((await admin(`/v1/federations/${fid}/start`)).status).toBe(200);
  return { fid, device: { authorization: `Bearer ${token}` } };
}

/**
 * One round of the single device: a step on the samples, then its head update
 * (the initial values, scaled). `joinBody` goes with the join (a profile, say).
 */
export async function round(
  fid: string,
  device: Record<string, string>,
  headScale: number,
  key: string,
  joinBody?: unknown,
  /** More of the update's metadata (a profile, say). */
  meta: Partial<UpdateMetadata> = {},
) {
  const joined = await call(
    `/v1/federations/${fid}/join`,
    joinBody === undefined ? { method: 'POST', headers: device } : json('POST', joinBody, device),
  );
  expect(joined.status).toBe(200);
  const { sessionPass, round: r } = (await joined.json()) as JoinAnswer;
  const headers = { ...device, [SESSION_PASS_HEADER]: sessionPass };
  const body = encodeStepRequest({
    activation: encodeFrame(
      { shape: samples.activationShape, data: Float32Array.from(samples.activation) },
      { encoding: 'fp32' },
    ),
    labels: samples.labels,
  });
  const step = await call(`/v1/federations/${fid}/rounds/${r}/steps/0`, {
    method: 'POST',
    body,
    headers: { 'content-type': STEP_CONTENT_TYPE, ...headers },
  });
  expect(step.status).toBe(200);
  const initial = parseSafetensors(model.bytes(training.artifacts.trainables));
  const values = Object.fromEntries(
    HEAD.map((s) => [s.name, (initial.get(s.name)!.data as Float32Array).map((x) => x * headScale)]),
  );
  const update = encodeUpdate(values, HEAD, {
    sampleCount: N,
    meanLoss: 1,
    accuracy: 0.5,
    steps: 1,
    idempotencyKey: key,
    ...meta,
  });
  const submitted = await call(`/v1/federations/${fid}/rounds/${r}/submit`, {
    method: 'POST',
    body: update,
    headers: { 'content-type': UPDATE_CONTENT_TYPE, ...headers },
  });
  expect(submitted.status, await submitted.clone().text()).toBe(202);
}
