// Serving what a federation trained: after a round publishes version 1,
// `?version=<federation>@1` runs the tail with that version's adapters, and
// the version's head trainables are there for devices to run the head with.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { encodeSafetensors, parseSafetensors } from '../../../common/safetensors.js';
import { loadOrt } from '../../../edge/ort-wasm.js';
import { withSession } from '../../../edge/sessions.js';
import {
  type FederationConfigInput,
  type JoinAnswer,
  SESSION_PASS_HEADER,
} from '../../../protocol/federation.js';
import { decodeFrame, encodeFrame } from '../../../protocol/frame.js';
import { problemType } from '../../../protocol/problem.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { relativeL2 } from '../../support/numeric.js';
import { call, postFrame, problemOf } from '../helpers.js';
import { seededModel } from '../seeded.js';

const ADMIN = { authorization: 'Bearer splitflare-dev-admin-key' };
const model = seededModel('vit-fashion');
const training = model.manifest.training!;
const activation = { shape: samples.activationShape, data: Float32Array.from(samples.activation) };

const CONFIG: FederationConfigInput = {
  modelId: 'vit-fashion',
  rounds: 2,
  clientsPerRound: 1,
  quorum: 1,
  roundDeadlineSeconds: 3600,
  localEpochs: 1,
  batchSize: activation.shape[0],
  uplink: 'fp32',
  downlink: 'fp32',
  budgetBytesPerRound: 10_000_000,
  headOptimizer: { kind: 'sgd', lr: 0.5, momentum: 0 },
  tailOptimizer: { kind: 'sgd', lr: 0.5, momentum: 0 },
  seed: 1,
};

const post = (path: string, body: unknown, headers: Record<string, string>) =>
  call(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

/** A federation whose round 0 published version 1 after one step of one device. */
async function trainedFederation(): Promise<string> {
  const fid = `ver-${Date.now().toString(36)}`;
  expect((await post('/v1/federations', { id: fid, config: CONFIG }, ADMIN)).status).toBe(201);
  const { token } = (await (
    await post(`/v1/federations/${fid}/devices`, { deviceId: 'd1' }, ADMIN)
  ).json()) as {
    token: string;
  };
  const device = { authorization: `Bearer ${token}` };
  expect((await post(`/v1/federations/${fid}/start`, {}, ADMIN)).status).toBe(200);
  const joined = await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: device });
  expect(joined.status).toBe(200);
  const { sessionPass } = (await joined.json()) as JoinAnswer;
  const round = { ...device, [SESSION_PASS_HEADER]: sessionPass };
  const body = encodeStepRequest({
    activation: encodeFrame(activation, { encoding: 'fp32' }),
    labels: samples.labels,
  });
  const step = await call(`/v1/federations/${fid}/rounds/0/steps/0`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/vnd.splitflare.step', ...round },
  });
  expect(step.status).toBe(200);
  const initial = parseSafetensors(model.bytes(training.artifacts.trainables));
  // The device's head update: its initial values moved a little, so the version differs on both sides.
  const head = new Map(
    training.trainables
      .filter((t) => t.owner === 'head')
      .map((t) => {
        const v = initial.get(t.name)!.data as Float32Array;
        return [t.name, { dtype: 'float32' as const, dims: t.shape, data: v.map((x) => x * 1.01) }];
      }),
  );
  const update = encodeSafetensors(head, {
    sampleCount: String(activation.shape[0]),
    meanLoss: '2',
    accuracy: '0.1',
    steps: '1',
    idempotencyKey: `${fid}-0`,
  });
  const submitted = await call(`/v1/federations/${fid}/rounds/0/submit`, {
    method: 'POST',
    body: update,
    headers: { 'content-type': 'application/vnd.splitflare.update', ...round },
  });
  expect(submitted.status).toBe(202);
  return fid;
}

async function tailLogits(values: ReturnType<typeof parseSafetensors>): Promise<Float32Array> {
  const ort = await loadOrt();
  const graph = training.artifacts.tailInfer!;
  return withSession(
    graph,
    async () => model.bytes(graph),
    async (session) => {
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        [model.manifest.cut.tensor.name]: new ort.Tensor('float32', activation.data, activation.shape),
      };
      for (const t of training.trainables.filter((x) => x.owner === 'tail')) {
        feeds[t.name] = new ort.Tensor('float32', values.get(t.name)!.data as Float32Array, t.shape);
      }
      return ((await session.run(feeds))[model.manifest.output.name].data as Float32Array).slice();
    },
  );
}

const infer = async (query: string) => {
  const res = await postFrame(
    `/v1/models/vit-fashion/infer${query}`,
    encodeFrame(activation, { encoding: 'fp32' }),
  );
  expect(res.status, await res.clone().text()).toBe(200);
  return decodeFrame(new Uint8Array(await res.arrayBuffer())).data;
};

describe('a published version is inference-ready', () => {
  it('runs the tail with the version adapters, and serves the version head trainables', async () => {
    const fid = await trainedFederation();
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(fid));
    const published = await coordinator.adapters(1, 'all');
    if (!published.ok) throw new Error(published.detail);
    const expected = await tailLogits(parseSafetensors(published.value));

    const versioned = await infer(`?version=${fid}@1`);
    const latest = await infer(`?version=${fid}@latest`);
    const base = await infer('');
    expect(relativeL2(versioned, expected)).toBeLessThan(1e-5);
    expect(Array.from(latest)).toEqual(Array.from(versioned));
    expect(base.some((x, i) => Math.abs(x - versioned[i]) > 1e-4)).toBe(true);

    const head = await call(`/v1/models/vit-fashion/versions/${fid}@1/head`);
    expect(head.status).toBe(200);
    expect(head.headers.get('x-splitflare-version')).toBe(`${fid}@1`);
    const tensors = parseSafetensors(new Uint8Array(await head.arrayBuffer()));
    expect([...tensors.keys()].sort()).toEqual(
      training.trainables
        .filter((t) => t.owner === 'head')
        .map((t) => t.name)
        .sort(),
    );
  });

  it('answers precise 4xx for versions that are malformed, unknown, unpublished or of another model', async () => {
    const bad = await postFrame(
      '/v1/models/vit-fashion/infer?version=nope',
      encodeFrame(activation, { encoding: 'fp32' }),
    );
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).type).toBe(problemType('bad-request'));
    const unknown = await call('/v1/models/vit-fashion/versions/no-such-federation@1/head');
    expect(unknown.status).toBe(404);
    expect((await problemOf(unknown)).type).toBe(problemType('unknown-federation'));
    const fid = await trainedFederation();
    const ahead = await call(`/v1/models/vit-fashion/versions/${fid}@99/head`);
    expect(ahead.status).toBe(404);
    const foreign = await postFrame(
      `/v1/models/vit-fashion-2s/infer?version=${fid}@1`,
      encodeFrame(activation, { encoding: 'fp32' }),
    );
    expect(foreign.status).toBe(400);
    expect((await problemOf(foreign)).detail).toContain('trains vit-fashion');
  });
});
