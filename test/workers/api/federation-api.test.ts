// The federation HTTP API end to end inside workerd: real routes, real
// Durable Objects, real tail training. Authentication, validation and the
// precise 4xx codes of late, duplicate and foreign requests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { encodeSafetensors, parseSafetensors } from '../../../common/safetensors.js';
import type { FederationConfigInput, FederationState, Ticket } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { problemType } from '../../../protocol/problem.js';
import { decodeStepAnswer, encodeStepRequest } from '../../../protocol/step.js';
import { call, problemOf, rememberPass, roundHeaders } from '../helpers.js';
import { seededModel } from '../seeded.js';

const ADMIN = { authorization: 'Bearer splitflare-dev-admin-key' };
const model = seededModel('vit-fashion');
const training = model.manifest.training!;
const [BATCH, TOKENS, WIDTH] = samples.activationShape;

const CONFIG: FederationConfigInput = {
  modelId: 'vit-fashion',
  rounds: 2,
  clientsPerRound: 2,
  quorum: 1,
  roundDeadlineSeconds: 3600,
  localEpochs: 1,
  batchSize: BATCH,
  uplink: 'int8',
  downlink: 'int8',
  budgetBytesPerRound: 10_000_000,
  headOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  tailOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  seed: 3,
};

let fedCounter = 0;
const freshId = () => `api-${Date.now().toString(36)}-${++fedCounter}`;

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});

async function createFederation(config: Partial<FederationConfigInput> = {}): Promise<string> {
  const id = freshId();
  const res = await call('/v1/federations', json({ id, config: { ...CONFIG, ...config } }, ADMIN));
  expect(res.status, await res.clone().text()).toBe(201);
  return id;
}

async function enroll(fid: string, deviceId: string): Promise<string> {
  const res = await call(`/v1/federations/${fid}/devices`, json({ deviceId }, ADMIN));
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function stepBody(): Uint8Array {
  const activation = encodeFrame(
    { shape: [BATCH, TOKENS, WIDTH], data: Float32Array.from(samples.activation) },
    { encoding: 'int8' },
  );
  return encodeStepRequest({ activation, labels: samples.labels });
}

const step = (fid: string, token: string, round: number, seq: number, body = stepBody()) =>
  call(`/v1/federations/${fid}/rounds/${round}/steps/${seq}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/vnd.splitflare.step', ...roundHeaders(token) },
  });

function headUpdate(key: string, sampleCount = BATCH): Uint8Array {
  const all = parseSafetensors(model.bytes(training.artifacts.trainables));
  const head = new Map(
    [...all].filter(([name]) => training.trainables.find((t) => t.name === name)?.owner === 'head'),
  );
  return encodeSafetensors(head, {
    sampleCount: String(sampleCount),
    meanLoss: '1.5',
    accuracy: '0.5',
    steps: '1',
    idempotencyKey: key,
  });
}

const submit = (fid: string, token: string, round: number, body: Uint8Array) =>
  call(`/v1/federations/${fid}/rounds/${round}/submit`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/vnd.splitflare.update', ...roundHeaders(token) },
  });

async function expectProblem(res: Response, status: number, slug: Parameters<typeof problemType>[0]) {
  expect(res.status).toBe(status);
  expect((await problemOf(res)).type).toBe(problemType(slug));
}

describe('admin authentication and validation', () => {
  it('401 without a key, 403 with a wrong one', async () => {
    const body = { id: freshId(), config: CONFIG };
    const none = await call('/v1/federations', json(body));
    await expectProblem(none, 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    await expectProblem(
      await call('/v1/federations', json(body, { authorization: 'Bearer nope' })),
      403,
      'forbidden',
    );
  });

  it('400 for an invalid config, 404 for an unknown model, 400 for a model without training artifacts', async () => {
    await expectProblem(
      await call('/v1/federations', json({ id: freshId(), config: { ...CONFIG, quorum: 5 } }, ADMIN)),
      400,
      'bad-request',
    );
    await expectProblem(
      await call('/v1/federations', json({ id: 'Bad ID!', config: CONFIG }, ADMIN)),
      400,
      'bad-request',
    );
    await expectProblem(
      await call('/v1/federations', json({ id: freshId(), config: { ...CONFIG, modelId: 'nope' } }, ADMIN)),
      404,
      'unknown-model',
    );
    await expectProblem(
      await call(
        '/v1/federations',
        json({ id: freshId(), config: { ...CONFIG, modelId: 'vit-mnist' } }, ADMIN),
      ),
      400,
      'bad-request',
    );
    await expectProblem(
      await call('/v1/federations', {
        method: 'POST',
        body: '{',
        headers: { 'content-type': 'application/json', ...ADMIN },
      }),
      400,
      'bad-request',
    );
  });

  it('404 for an unknown federation', async () => {
    await expectProblem(
      await call('/v1/federations/does-not-exist', { headers: ADMIN }),
      404,
      'unknown-federation',
    );
  });
});

describe('device authentication', () => {
  it('rejects missing, forged and foreign tokens', async () => {
    const fid = await createFederation();
    const other = await createFederation();
    const token = await enroll(fid, 'dev-a');
    const foreign = await enroll(other, 'dev-a');
    await expectProblem(await call(`/v1/federations/${fid}/join`, { method: 'POST' }), 401, 'unauthorized');
    const [h, p, s] = token.split('.');
    const forged = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectProblem(
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(forged) }),
      401,
      'unauthorized',
    );
    await expectProblem(
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer('garbage') }),
      401,
      'unauthorized',
    );
    await expectProblem(
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(foreign) }),
      403,
      'forbidden',
    );
    // A device token is not an admin key.
    await expectProblem(await call(`/v1/federations/${fid}`, { headers: bearer(token) }), 403, 'forbidden');
  });
});

describe('a round over the HTTP API', () => {
  it('join → step → submit publishes version 1; late, duplicate and unselected requests get precise 4xx', async () => {
    const fid = await createFederation({ clientsPerRound: 2, quorum: 2 });
    const tokens = {
      a: await enroll(fid, 'dev-a'),
      b: await enroll(fid, 'dev-b'),
      c: await enroll(fid, 'dev-c'),
    };
    await expectProblem(
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(tokens.a) }),
      409,
      'no-open-round',
    );
    expect((await call(`/v1/federations/${fid}/start`, { method: 'POST', headers: ADMIN })).status).toBe(200);

    const tickets: Record<string, Ticket> = {};
    const skipped: string[] = [];
    for (const [name, token] of Object.entries(tokens)) {
      const res = await rememberPass(
        token,
        await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(token) }),
      );
      if (res.status === 409) {
        expect((await problemOf(res)).type).toBe(problemType('not-selected'));
        skipped.push(name);
      } else {
        expect(res.status).toBe(200);
        tickets[name] = (await res.json()) as Ticket;
      }
    }
    expect(skipped).toHaveLength(1);
    const [first, second] = Object.keys(tickets) as Array<keyof typeof tokens>;
    const outsider = skipped[0] as keyof typeof tokens;
    expect(tickets[first].cut).toBe('embed');

    // An unselected device has no session to step in.
    expect((await step(fid, tokens[outsider], 0, 0)).status).toBeGreaterThanOrEqual(400);

    const res0 = await step(fid, tokens[first], 0, 0);
    expect(res0.status).toBe(200);
    const answer = decodeStepAnswer(new Uint8Array(await res0.arrayBuffer()));
    expect(answer.loss).toBeGreaterThan(0);
    expect(answer.header.shape).toEqual([BATCH, TOKENS, WIDTH]);
    await expectProblem(await step(fid, tokens[first], 0, 5), 409, 'out-of-order-step');

    expect((await submit(fid, tokens[first], 0, headUpdate('k-first'))).status).toBe(202);
    const again = await submit(fid, tokens[first], 0, headUpdate('k-first'));
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    await expectProblem(
      await submit(fid, tokens[first], 0, headUpdate('k-other')),
      409,
      'duplicate-submission',
    );
    await expectProblem(await submit(fid, tokens[second], 1, headUpdate('k-x')), 409, 'wrong-round');
    await expectProblem(
      await submit(fid, tokens[second], 0, new TextEncoder().encode('not safetensors')),
      422,
      'invalid-update',
    );

    expect((await step(fid, tokens[second], 0, 0)).status).toBe(200);
    expect((await submit(fid, tokens[second], 0, headUpdate('k-second'))).status).toBe(202);

    const state = (await (
      await call(`/v1/federations/${fid}`, { headers: ADMIN })
    ).json()) as FederationState;
    expect(state.latestVersion).toBe(1);
    expect(state.currentRound?.round).toBe(1);
    // What it trains comes from the model's manifest.
    expect(state.cut).toBe(model.manifest.cut.id);
    expect(state.trainables).toEqual(training.trainables);
    // Late: round 0 is closed now.
    await expectProblem(await submit(fid, tokens[outsider], 0, headUpdate('k-late')), 409, 'round-closed');

    const history = (await (await call(`/v1/federations/${fid}/history`, { headers: ADMIN })).json()) as {
      rounds: Array<{ status: string; participants: number; uplinkBytes: number }>;
    };
    expect(history.rounds[0].status).toBe('published');
    expect(history.rounds[0].participants).toBe(2);
    expect(history.rounds[0].uplinkBytes).toBeGreaterThan(0);

    const adapters = await call(`/v1/federations/${fid}/adapters/1`, { headers: bearer(tokens[first]) });
    expect(adapters.status).toBe(200);
    const head = parseSafetensors(new Uint8Array(await adapters.arrayBuffer()));
    expect([...head.keys()].sort()).toEqual(
      training.trainables
        .filter((t) => t.owner === 'head')
        .map((t) => t.name)
        .sort(),
    );
    // Devices get the head side only; both sides need the admin key.
    await expectProblem(
      await call(`/v1/federations/${fid}/adapters/1/all`, { headers: bearer(tokens[first]) }),
      403,
      'forbidden',
    );
    expect((await call(`/v1/federations/${fid}/adapters/1/all`, { headers: ADMIN })).status).toBe(200);
  });

  it('429 with Retry-After once the byte budget is spent', async () => {
    const fid = await createFederation({ clientsPerRound: 1, quorum: 1, budgetBytesPerRound: 3000 });
    const token = await enroll(fid, 'dev-a');
    await call(`/v1/federations/${fid}/start`, { method: 'POST', headers: ADMIN });
    expect(
      (
        await rememberPass(
          token,
          await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(token) }),
        )
      ).status,
    ).toBe(200);
    const res = await step(fid, token, 0, 0);
    await expectProblem(res, 429, 'budget-exhausted');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('random step bodies never produce a 5xx', async () => {
    const fid = await createFederation({ clientsPerRound: 1, quorum: 1 });
    const token = await enroll(fid, 'dev-a');
    await call(`/v1/federations/${fid}/start`, { method: 'POST', headers: ADMIN });
    await rememberPass(
      token,
      await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(token) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (body) => {
        const res = await step(fid, token, 0, 0, body);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 30, seed: 5 },
    );
    await expectProblem(await step(fid, token, 0, -1 as number), 400, 'bad-request');
  });
});
