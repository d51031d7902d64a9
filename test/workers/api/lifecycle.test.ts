// The device lifecycle over the HTTP API inside workerd: tokens that expire
// and name their signing key, key rotation with overlap, revocation and
// re-enrolment reaching join, adapters, steps (in the session object) and
// submit, and federations stored before device generations existed.
import {
  createExecutionContext,
  evictDurableObject,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { encodeSafetensors, parseSafetensors } from '../../../common/safetensors.js';
import type {
  DeviceRecord,
  Enrollment,
  FederationConfigInput,
  FederationState,
  JoinAnswer,
} from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { type ProblemSlug, problemType } from '../../../protocol/problem.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { createApp } from '../../../workers/app.js';
import { parseKeyring } from '../../../workers/auth/keys.js';
import { b64url, issueDeviceToken } from '../../../workers/auth/tokens.js';
import { BASE, problemOf, rememberPass, roundHeaders } from '../helpers.js';
import { seededModel } from '../seeded.js';

const ADMIN = { authorization: 'Bearer splitflare-dev-admin-key' };
/** .dev.vars' TOKEN_SECRET, which the Worker signs with as kid "default". */
const DEV_SECRET = 'splitflare-dev-token-secret-change-me';
const NEW_KEY = 'k2:a-new-token-secret-after-rotation';
const ROTATING = { TOKEN_SECRETS: `${NEW_KEY},default:${DEV_SECRET}` };
const ROTATED = { TOKEN_SECRETS: NEW_KEY };

const model = seededModel('vit-fashion');
const training = model.manifest.training!;
const [BATCH, TOKENS, WIDTH] = samples.activationShape;

const CONFIG: FederationConfigInput = {
  modelId: 'vit-fashion',
  rounds: 3,
  clientsPerRound: 3,
  quorum: 1,
  roundDeadlineSeconds: 3600,
  localEpochs: 1,
  batchSize: BATCH,
  uplink: 'int8',
  downlink: 'int8',
  budgetBytesPerRound: 10_000_000,
  headOptimizer: { kind: 'sgd', lr: 0.05 },
  tailOptimizer: { kind: 'sgd', lr: 0.05 },
  seed: 1,
};

const DEADLINE_S = 10;
const app = createApp();
const statuses: number[] = [];

/** The Worker with the test configuration, or with some of its variables replaced (key rotation). */
async function call(path: string, init: RequestInit = {}, vars: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  statuses.push(res.status);
  return res;
}

const post = (path: string, body: unknown, headers: Record<string, string>, vars?: Record<string, string>) =>
  call(
    path,
    {
      method: 'POST',
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    },
    vars,
  );

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let counter = 0;
async function createFederation(config: Partial<FederationConfigInput> = {}): Promise<string> {
  const id = `life-${Date.now().toString(36)}-${++counter}`;
  const res = await post('/v1/federations', { id, config: { ...CONFIG, ...config } }, ADMIN);
  expect(res.status, await res.clone().text()).toBe(201);
  return id;
}

async function enroll(fid: string, deviceId: string, vars?: Record<string, string>): Promise<Enrollment> {
  const res = await post(`/v1/federations/${fid}/devices`, { deviceId }, ADMIN, vars);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Enrollment;
}

const start = async (fid: string) =>
  expect((await post(`/v1/federations/${fid}/start`, undefined, ADMIN)).status).toBe(200);
const revoke = (fid: string, deviceId: string) =>
  post(`/v1/federations/${fid}/devices/${deviceId}/revoke`, undefined, ADMIN);
const join = async (fid: string, token: string, vars?: Record<string, string>) =>
  rememberPass(token, await post(`/v1/federations/${fid}/join`, undefined, bearer(token), vars));
const refresh = (fid: string, token: string, vars?: Record<string, string>) =>
  post(`/v1/federations/${fid}/token`, undefined, bearer(token), vars);
const adapters = (fid: string, token: string) =>
  call(`/v1/federations/${fid}/adapters/0`, { headers: bearer(token) });

function stepBody(): Uint8Array {
  const activation = encodeFrame(
    { shape: [BATCH, TOKENS, WIDTH], data: Float32Array.from(samples.activation) },
    { encoding: 'int8' },
  );
  return encodeStepRequest({ activation, labels: samples.labels });
}

const step = (fid: string, token: string, round: number, seq: number) =>
  call(`/v1/federations/${fid}/rounds/${round}/steps/${seq}`, {
    method: 'POST',
    body: stepBody(),
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

const submit = (fid: string, token: string, round: number, key: string, sampleCount = BATCH) =>
  call(`/v1/federations/${fid}/rounds/${round}/submit`, {
    method: 'POST',
    body: headUpdate(key, sampleCount),
    headers: { 'content-type': 'application/vnd.splitflare.update', ...roundHeaders(token) },
  });

async function expectProblem(res: Response, status: number, slug: ProblemSlug, reason?: string) {
  const body = await problemOf(res);
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.type).toBe(problemType(slug));
  if (reason !== undefined) expect(body.reason).toBe(reason);
  return body;
}

const unauthorized = (res: Response, reason?: string) => expectProblem(res, 401, 'unauthorized', reason);

/** A token the Worker's key signs, with claims of the test's choosing. */
async function tokenAt(
  fid: string,
  deviceId: string,
  generation: number,
  issuedAt: number,
  lifetimeMs: number,
) {
  const ring = parseKeyring(undefined, DEV_SECRET);
  return (await issueDeviceToken(ring, { federationId: fid, deviceId, generation }, issuedAt, lifetimeMs))
    .token;
}

describe('device tokens', () => {
  it('enrolment answers the token, its generation and when it expires', async () => {
    const fid = await createFederation();
    const before = Date.now();
    const e = await enroll(fid, 'dev-a');
    expect(e).toMatchObject({ federationId: fid, deviceId: 'dev-a', generation: 1 });
    expect(e.token.startsWith('sf2.')).toBe(true);
    // TOKEN_TTL_SECONDS in wrangler.toml: 30 days.
    expect(e.expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(e.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    await expectProblem(await join(fid, e.token), 409, 'no-open-round');
  });

  it('refuses expired, not-yet-valid, foreign-key, malformed, forged and old-format tokens with 401', async () => {
    const fid = await createFederation();
    const { token } = await enroll(fid, 'dev-a');
    const now = Date.now();
    const expired = await tokenAt(fid, 'dev-a', 1, now - 2 * 86_400_000, 86_400_000);
    await unauthorized(await join(fid, expired), 'expired');
    const future = await tokenAt(fid, 'dev-a', 1, now + 3_600_000, 86_400_000);
    await unauthorized(await join(fid, future), 'not-yet-valid');
    // The hostile client's token: issued at -1e15.
    const ancient = await tokenAt(fid, 'dev-a', 1, 0, 86_400_000);
    await unauthorized(await join(fid, ancient), 'expired');
    const foreignRing = parseKeyring('elsewhere:some-other-deployments-secret', undefined);
    const foreign = (
      await issueDeviceToken(
        foreignRing,
        { federationId: fid, deviceId: 'dev-a', generation: 1 },
        now,
        86_400_000,
      )
    ).token;
    await unauthorized(await join(fid, foreign), 'unknown-key');
    const [v, payload, sig] = token.split('.');
    await unauthorized(
      await join(fid, `${v}.${payload}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`),
      'bad-signature',
    );
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const otherDevice = b64url(new TextEncoder().encode(JSON.stringify({ ...claims, d: 'dev-b' })));
    await unauthorized(await join(fid, `${v}.${otherDevice}.${sig}`), 'bad-signature');
    await unauthorized(await join(fid, 'garbage'), 'malformed');
    await unauthorized(await join(fid, `sf2.${payload}`), 'malformed');
    await unauthorized(await join(fid, `sf1.${payload}.${sig}`), 'unsupported-version');
    const missing = await post(`/v1/federations/${fid}/join`, undefined, {});
    await unauthorized(missing, 'missing');
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    // Every device route checks the token the same way.
    await unauthorized(await adapters(fid, expired), 'expired');
    await unauthorized(await step(fid, expired, 0, 0), 'expired');
    await unauthorized(await submit(fid, expired, 0, 'k'), 'expired');
    await unauthorized(await refresh(fid, expired), 'expired');
  });

  it('rotates keys with overlap: old-key tokens work while their key is listed and fail once it is dropped', async () => {
    const fid = await createFederation();
    const old = await enroll(fid, 'dev-old');
    // The new key is listed first; the old secret stays listed as "default".
    const rotated = await enroll(fid, 'dev-new', ROTATING);
    expect(JSON.parse(atob(rotated.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).k).toBe('k2');
    await expectProblem(await join(fid, old.token, ROTATING), 409, 'no-open-round');
    await expectProblem(await join(fid, rotated.token, ROTATING), 409, 'no-open-round');
    // A device renews during the overlap: same generation, the new key.
    const renewed = await refresh(fid, old.token, ROTATING);
    expect(renewed.status).toBe(200);
    const fresh = (await renewed.json()) as { token: string; generation: number; expiresAt: number };
    expect(fresh.generation).toBe(old.generation);
    // The old key dropped: its tokens are refused, renewed and new-key tokens are not.
    await unauthorized(await join(fid, old.token, ROTATED), 'unknown-key');
    await expectProblem(await join(fid, fresh.token, ROTATED), 409, 'no-open-round');
    await expectProblem(await join(fid, rotated.token, ROTATED), 409, 'no-open-round');
    // And a Worker that never got the new key refuses its tokens.
    await unauthorized(await join(fid, rotated.token), 'unknown-key');
  });

  it('answers 500 (and signs nothing) when no usable key is configured', async () => {
    const fid = await createFederation();
    const res = await post(`/v1/federations/${fid}/devices`, { deviceId: 'dev-a' }, ADMIN, {
      TOKEN_SECRETS: 'k1:short',
    });
    expect(res.status).toBe(500);
    statuses.pop(); // deliberate
    // Checked before enrolling: the device was not moved to a generation nobody holds a token for.
    const list = (await (await call(`/v1/federations/${fid}/devices`, { headers: ADMIN })).json()) as {
      devices: DeviceRecord[];
    };
    expect(list.devices).toEqual([]);
  });
});

describe('revocation', () => {
  it('refuses a revoked device on join, adapters, steps and submit, and selects it no more', async () => {
    // Long enough for what happens before the deadline on a busy machine; the test then waits it out.
    const fid = await createFederation({ roundDeadlineSeconds: DEADLINE_S });
    const a = await enroll(fid, 'dev-a');
    const b = await enroll(fid, 'dev-b');
    const c = await enroll(fid, 'dev-c');
    await start(fid);
    expect((await join(fid, a.token)).status).toBe(200);
    expect((await join(fid, b.token)).status).toBe(200);
    expect((await step(fid, a.token, 0, 0)).status).toBe(200);
    expect((await adapters(fid, a.token)).status).toBe(200);

    // Device tokens are not admin keys; unknown devices are 404.
    await expectProblem(
      await post(`/v1/federations/${fid}/devices/dev-a/revoke`, undefined, bearer(a.token)),
      403,
      'forbidden',
    );
    await expectProblem(await revoke(fid, 'nobody'), 404, 'not-found');
    await expectProblem(await revoke(fid, 'Not A Device!'), 404, 'not-found');

    const res = await revoke(fid, 'dev-a');
    expect(res.status).toBe(200);
    const record = (await res.json()) as DeviceRecord;
    expect(record).toMatchObject({ deviceId: 'dev-a', generation: 1 });
    expect(record.revokedAt).toBeGreaterThan(0);
    // Idempotent.
    expect(((await (await revoke(fid, 'dev-a')).json()) as DeviceRecord).revokedAt).toBe(record.revokedAt);

    // The live session heard it: the next step (which never reaches the coordinator) is refused.
    await unauthorized(await step(fid, a.token, 0, 1), 'revoked');
    await unauthorized(await step(fid, a.token, 0, 0), 'revoked');
    await unauthorized(await join(fid, a.token), 'revoked');
    await unauthorized(await adapters(fid, a.token), 'revoked');
    await unauthorized(await submit(fid, a.token, 0, 'a-key'), 'revoked');
    await unauthorized(await refresh(fid, a.token), 'revoked');
    // In a round it never joined there is no session; the coordinator says why.
    await unauthorized(await step(fid, a.token, 1, 0), 'revoked');
    await unauthorized(await submit(fid, a.token, 1, 'a-key'), 'revoked');

    // Others carry on.
    expect((await step(fid, b.token, 0, 0)).status).toBe(200);
    expect((await submit(fid, b.token, 0, 'b-key')).status).toBe(202);

    const list = (await (await call(`/v1/federations/${fid}/devices`, { headers: ADMIN })).json()) as {
      devices: DeviceRecord[];
    };
    expect(list.devices.map((d) => [d.deviceId, d.revokedAt !== null])).toEqual([
      ['dev-a', true],
      ['dev-b', false],
      ['dev-c', false],
    ]);
    const state = (await (
      await call(`/v1/federations/${fid}`, { headers: ADMIN })
    ).json()) as FederationState;
    expect(state.devices).toBe(2);
    expect(state.currentRound?.selected).toContain('dev-a');

    // Round 0 closes at its deadline; round 1 draws from the devices still in good standing.
    await new Promise((r) =>
      setTimeout(r, Math.max(0, state.currentRound!.openedAt + DEADLINE_S * 1000 + 100 - Date.now())),
    );
    const next = (await (await call(`/v1/federations/${fid}`, { headers: ADMIN })).json()) as FederationState;
    expect(next.currentRound?.round).toBe(1);
    expect(next.currentRound?.selected.sort()).toEqual(['dev-b', 'dev-c']);
    expect((await join(fid, c.token)).status).toBe(200);

    // Enrolled again, the device is back in good standing with a new token; the revoked one stays void.
    const again = await enroll(fid, 'dev-a');
    expect(again.generation).toBe(2);
    await unauthorized(await join(fid, a.token), 'superseded');
    await expectProblem(await join(fid, again.token), 409, 'not-selected');
    expect((await adapters(fid, again.token)).status).toBe(200);
  });

  it('a revocation that arrives between the join at the coordinator and the session refuses the session too', async () => {
    const fid = await createFederation({ clientsPerRound: 1 });
    const a = await enroll(fid, 'dev-a');
    await start(fid);
    // The coordinator's half of a join, as the route makes it, then the revocation, then the session's half.
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(fid));
    const joined = await coordinator.join('dev-a', a.generation);
    if (!joined.ok) throw new Error(joined.detail);
    expect((await revoke(fid, 'dev-a')).status).toBe(200);
    const session = env.SESSIONS.get(env.SESSIONS.idFromName(`${fid}/0/dev-a`));
    const init = await session.init({ ...joined.value, generation: a.generation });
    expect(init).toMatchObject({ ok: false, problem: 'unauthorized', extensions: { reason: 'revoked' } });
  });
});

describe('re-enrolment', () => {
  it('voids the older token everywhere; the new one continues the same session, exactly once', async () => {
    const fid = await createFederation({ clientsPerRound: 1, rounds: 2 });
    const first = await enroll(fid, 'dev-a');
    await start(fid);
    const { sessionPass: firstPass, ...ticket } = (await (await join(fid, first.token)).json()) as JoinAnswer;
    expect((await step(fid, first.token, 0, 0)).status).toBe(200);

    const second = await enroll(fid, 'dev-a');
    expect(second.generation).toBe(first.generation + 1);
    expect(second.enrolledAt).toBe(first.enrolledAt);
    await unauthorized(await join(fid, first.token), 'superseded');
    await unauthorized(await step(fid, first.token, 0, 1), 'superseded');
    await unauthorized(await adapters(fid, first.token), 'superseded');
    await unauthorized(await submit(fid, first.token, 0, 'key-1'), 'superseded');
    await unauthorized(await refresh(fid, first.token), 'superseded');

    // The round goes on with the new token: same ticket, the next step in sequence, a retry replayed.
    const { sessionPass: secondPass, ...rejoined } = (await (
      await join(fid, second.token)
    ).json()) as JoinAnswer;
    expect(rejoined).toEqual(ticket);
    // The pass names the token's generation: the old one no longer matches the new token.
    expect(secondPass).not.toBe(firstPass);
    await expectProblem(await step(fid, second.token, 0, 2), 409, 'out-of-order-step');
    const s1 = await step(fid, second.token, 0, 1);
    expect(s1.status).toBe(200);
    const retried = await step(fid, second.token, 0, 1);
    expect(new Uint8Array(await retried.arrayBuffer())).toEqual(new Uint8Array(await s1.arrayBuffer()));
    // Two steps applied once each, whichever token sent them: the session observed 2 × BATCH samples.
    expect((await submit(fid, second.token, 0, 'key-2', 2 * BATCH)).status).toBe(202);
    const replay = await submit(fid, second.token, 0, 'key-2', 2 * BATCH);
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { duplicate: boolean }).duplicate).toBe(true);
    const history = (await (await call(`/v1/federations/${fid}/history`, { headers: ADMIN })).json()) as {
      rounds: Array<{ participants: number; status: string }>;
    };
    expect(history.rounds[0]).toMatchObject({ participants: 1, status: 'published' });
  });

  it('keeps federations stored before generations: their devices get generation 0 and enrol again', async () => {
    const fid = await createFederation();
    await enroll(fid, 'dev-a');
    await enroll(fid, 'dev-b');
    const stub = env.COORDINATOR.get(env.COORDINATOR.idFromName(fid));
    // The devices table as the previous version created it.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec('ALTER TABLE devices DROP COLUMN revoked_at');
      state.storage.sql.exec('ALTER TABLE devices DROP COLUMN generation');
    });
    await evictDurableObject(stub);
    const list = (await (await call(`/v1/federations/${fid}/devices`, { headers: ADMIN })).json()) as {
      devices: DeviceRecord[];
    };
    expect(list.devices.map((d) => [d.deviceId, d.generation, d.revokedAt])).toEqual([
      ['dev-a', 0, null],
      ['dev-b', 0, null],
    ]);
    const again = await enroll(fid, 'dev-a');
    expect(again.generation).toBe(1);
    await expectProblem(await join(fid, again.token), 409, 'no-open-round');
    expect((await revoke(fid, 'dev-b')).status).toBe(200);
  });
});

describe('no 5xx', () => {
  it('answered every request above without a server error but the one misconfiguration', () => {
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
