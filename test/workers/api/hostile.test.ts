// A hostile client against the real routes inside workerd: updates whose
// safetensors header lies about where its tensors are, and frames carrying
// integer codes outside the format's levels. Each is a 4xx with a stable
// code, never a 5xx, and nothing of it is trained on or aggregated.
import { env, listDurableObjectIds } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import { parseSafetensors } from '../../../common/safetensors.js';
import { crc32 } from '../../../protocol/crc32.js';
import type { Encoding } from '../../../protocol/encoding.js';
import {
  type FederationConfigInput,
  type FederationState,
  type JoinAnswer,
  type RoundRecord,
  SESSION_PASS_HEADER,
} from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { problemType } from '../../../protocol/problem.js';
import { encodeStepRequest } from '../../../protocol/step.js';
import { encodeUpdate, type UpdateMetadata } from '../../../protocol/update.js';
import { call, postFrame, problemOf } from '../helpers.js';
import { ADMIN, CONFIG, model, training } from './single-device.js';

const HEAD = training.trainables.filter((t) => t.owner === 'head');
const [BATCH, TOKENS, WIDTH] = samples.activationShape;

const HOSTILE_CONFIG: FederationConfigInput = {
  ...CONFIG,
  rounds: 2,
  batchSize: BATCH,
  uplink: 'int8',
  downlink: 'int8',
  headOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  tailOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  seed: 11,
};

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A device's credentials for one round: its token and the pass its join answered. */
interface Device {
  token: string;
  pass: string;
}
const roundHeaders = (d: Device) => ({ ...bearer(d.token), [SESSION_PASS_HEADER]: d.pass });

async function joinedDevice(): Promise<{ fid: string; device: Device }> {
  const fid = `hostile-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  expect((await call('/v1/federations', json({ id: fid, config: HOSTILE_CONFIG }, ADMIN))).status).toBe(201);
  const enrolled = await call(`/v1/federations/${fid}/devices`, json({ deviceId: 'dev-h' }, ADMIN));
  const { token } = (await enrolled.json()) as { token: string };
  expect((await call(`/v1/federations/${fid}/start`, { method: 'POST', headers: ADMIN })).status).toBe(200);
  const joined = await call(`/v1/federations/${fid}/join`, { method: 'POST', headers: bearer(token) });
  expect(joined.status).toBe(200);
  const { sessionPass } = (await joined.json()) as JoinAnswer;
  return { fid, device: { token, pass: sessionPass } };
}

/** Rewrites the last code of a frame's packed payload to the pattern below -q, and its CRC to match. */
function withOutOfRangeCode(frame: Uint8Array, numel: number, bits: number): Uint8Array {
  const out = frame.slice();
  const end = out.length - 4;
  const payload = end - Math.ceil((numel * bits) / 8);
  const i = numel - 1;
  const at = payload + Math.floor((i * bits) / 8);
  const shift = (i * bits) % 8;
  const mask = ((1 << bits) - 1) << shift;
  // 1 followed by zeros: -128, -8 or -2 in two's complement
  out[at] = (out[at] & ~mask) | ((1 << (bits - 1)) << shift);
  new DataView(out.buffer).setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

const BITS: Record<string, number> = { int8: 8, int4: 4, int2: 2 };

function stepBody(encoding: Encoding = 'int8', hostile = false): Uint8Array {
  const numel = BATCH * TOKENS * WIDTH;
  let activation: Uint8Array = encodeFrame(
    { shape: [BATCH, TOKENS, WIDTH], data: Float32Array.from(samples.activation) },
    { encoding },
  );
  if (hostile) activation = withOutOfRangeCode(activation, numel, BITS[encoding]);
  return encodeStepRequest({ activation, labels: samples.labels });
}

const step = (fid: string, device: Device, seq: number, body: Uint8Array) =>
  call(`/v1/federations/${fid}/rounds/0/steps/${seq}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/vnd.splitflare.step', ...roundHeaders(device) },
  });

const submit = (fid: string, device: Device, body: Uint8Array) =>
  call(`/v1/federations/${fid}/rounds/0/submit`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/vnd.splitflare.update', ...roundHeaders(device) },
  });

const META: UpdateMetadata = {
  sampleCount: BATCH,
  meanLoss: 1.5,
  accuracy: 0.5,
  steps: 1,
  idempotencyKey: 'hostile-key',
};

function validUpdate(meta: Partial<UpdateMetadata> = {}): Uint8Array {
  const initial = parseSafetensors(model.bytes(training.artifacts.trainables));
  const values = Object.fromEntries(HEAD.map((s) => [s.name, initial.get(s.name)!.data as Float32Array]));
  return encodeUpdate(values, HEAD, { ...META, ...meta });
}

/** The update with its header edited; `data` replaces the data buffer when given. */
function rewrite(
  bytes: Uint8Array,
  edit: (header: Record<string, Record<string, unknown>>) => void,
  data?: Uint8Array,
): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = data ?? bytes.subarray(8 + n);
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

// Names sort bias ([64] floats, 256 bytes) before weight (3,136 floats, 12,544 bytes).
const BIAS = 'embed.patch.bias';
const WEIGHT = 'embed.patch.weight';

async function expectRefused(
  res: Response,
  status: number,
  slug: 'invalid-update' | 'malformed-frame',
  code: string,
) {
  const problem = await problemOf(res);
  expect({ status: res.status, type: problem.type, code: problem.code }).toEqual({
    status,
    type: problemType(slug),
    code,
  });
}

async function roundZero(fid: string): Promise<{ state: FederationState; round: RoundRecord }> {
  const state = (await (await call(`/v1/federations/${fid}`, { headers: ADMIN })).json()) as FederationState;
  const { rounds } = (await (await call(`/v1/federations/${fid}/history`, { headers: ADMIN })).json()) as {
    rounds: RoundRecord[];
  };
  return { state, round: rounds[0] };
}

describe('hostile updates', () => {
  it('overlapping, negative and fractional offsets are 422 invalid-update with their code and never aggregated', async () => {
    const { fid, device } = await joinedDevice();
    expect((await step(fid, device, 0, stepBody())).status).toBe(200);
    const valid = validUpdate();
    const data = valid.subarray(valid.length - 256 - 12544);
    const cases: Array<[string, Uint8Array]> = [
      // the weight claims the bias's bytes too; the last 256 bytes belong to nobody
      [
        'overlap',
        rewrite(valid, (h) => {
          h[WEIGHT].data_offsets = [0, 12544];
        }),
      ],
      // the bias read from the 256 header bytes before the data buffer
      [
        'bad-offsets',
        rewrite(
          valid,
          (h) => {
            h[BIAS].data_offsets = [-256, 0];
            h[WEIGHT].data_offsets = [0, 12544];
          },
          data.subarray(256),
        ),
      ],
      [
        'bad-offsets',
        rewrite(valid, (h) => {
          h[BIAS].data_offsets = [0.5, 256.5];
        }),
      ],
      [
        'gap',
        rewrite(
          valid,
          (h) => {
            h[WEIGHT].data_offsets = [260, 12804];
          },
          new Uint8Array(12804),
        ),
      ],
      ['trailing-bytes', rewrite(valid, () => {}, new Uint8Array(12800 + 4))],
      ['out-of-bounds', valid.subarray(0, valid.length - 4)],
      [
        'bad-metadata',
        rewrite(valid, (h) => {
          h.__metadata__.idempotencyKey = 'k'.repeat(129);
        }),
      ],
      [
        'non-finite',
        (() => {
          const nan = valid.slice();
          new DataView(nan.buffer).setFloat32(nan.length - 4, Number.NaN, true);
          return nan;
        })(),
      ],
    ];
    for (const [code, body] of cases)
      await expectRefused(await submit(fid, device, body), 422, 'invalid-update', code);

    // Random lies about the offsets: always a 4xx, never a 5xx.
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(BIAS, WEIGHT),
        fc.integer({ min: -300, max: 13000 }),
        fc.integer({ min: -300, max: 13000 }),
        async (name, begin, end) => {
          const body = rewrite(valid, (h) => {
            h[name].data_offsets = [begin, end];
          });
          const res = await submit(fid, device, body);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          await res.arrayBuffer();
        },
      ),
      { numRuns: 25 },
    );

    // None of it counted: with one client per round, an accepted update would have published version 1.
    const before = await roundZero(fid);
    expect(before.state.latestVersion).toBe(0);
    expect(before.round.participants).toBe(0);

    expect((await submit(fid, device, valid)).status).toBe(202);
    const after = await roundZero(fid);
    expect(after.state.latestVersion).toBe(1);
    expect(after.round.participants).toBe(1);
  });
});

describe('lying metadata and huge finite values', () => {
  it('an update claiming more samples than its session observed, or with values beyond the bound, is 422 and not aggregated', async () => {
    const { fid, device } = await joinedDevice();
    // Before any step the session has observed nothing to submit.
    await expectRefused(await submit(fid, device, validUpdate()), 422, 'invalid-update', 'no-steps');
    expect((await step(fid, device, 0, stepBody())).status).toBe(200);

    // A claim of a million samples (FedAvg would weight it 10⁶/BATCH times an honest one).
    const inflated = await submit(
      fid,
      device,
      validUpdate({ sampleCount: 1_000_000, idempotencyKey: 'inflated' }),
    );
    const problem = await problemOf(inflated);
    expect({ status: inflated.status, code: problem.code, observed: problem.observed }).toEqual({
      status: 422,
      code: 'sample-count-mismatch',
      observed: BATCH,
    });

    // Finite but enormous values: within float32, far beyond the federation's default ±100.
    for (const huge of [1e30, -3.4e38, 101]) {
      const initial = parseSafetensors(model.bytes(training.artifacts.trainables));
      const values = Object.fromEntries(
        HEAD.map((s) => [s.name, Float32Array.from(initial.get(s.name)!.data as Float32Array)]),
      );
      values[WEIGHT][7] = huge;
      const body = encodeUpdate(values, HEAD, { ...META, idempotencyKey: `huge-${huge}` });
      await expectRefused(await submit(fid, device, body), 422, 'invalid-update', 'value-out-of-bound');
    }

    const before = await roundZero(fid);
    expect(before.state.latestVersion).toBe(0);
    expect(before.round.participants).toBe(0);
    // None of the refusals closed the session: the device trains on...
    expect((await step(fid, device, 1, stepBody())).status).toBe(200);
    await expectRefused(
      await submit(fid, device, validUpdate({ idempotencyKey: 'stale-count' })),
      422,
      'invalid-update',
      'sample-count-mismatch',
    );
    // ...and its honest update is accepted, weighted by what the session observed.
    expect((await submit(fid, device, validUpdate({ sampleCount: 2 * BATCH }))).status).toBe(202);
    const after = await roundZero(fid);
    expect(after.round).toMatchObject({ participants: 1, samples: 2 * BATCH, publishedVersion: 1 });
    // Accepted, the session takes no more steps.
    expect((await step(fid, device, 2, stepBody())).status).toBe(409);
  });
});

describe('storage on demand', () => {
  it("steps and submits without the round's session pass get a precise 4xx and create no session object", async () => {
    const { fid, device } = await joinedDevice();
    const before = (await listDurableObjectIds(env.SESSIONS)).length;
    const send = (round: number, kind: 'step' | 'submit', headers: Record<string, string>) =>
      call(`/v1/federations/${fid}/rounds/${round}/${kind === 'step' ? 'steps/0' : 'submit'}`, {
        method: 'POST',
        body: kind === 'step' ? stepBody() : validUpdate(),
        headers: {
          'content-type': `application/vnd.splitflare.${kind === 'step' ? 'step' : 'update'}`,
          ...headers,
        },
      });
    const [sp, kid, mac] = device.pass.split('.');
    const forged = `${sp}.${kid}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BA' : 'AA'}`;
    const cases: Array<[number, Record<string, string>, number, string]> = [
      // the round-0 pass does not open other rounds: the coordinator says why
      [1, roundHeaders(device), 409, 'wrong-round'],
      [7, roundHeaders(device), 409, 'wrong-round'],
      [999_999_999, roundHeaders(device), 409, 'wrong-round'],
      // round 0, which the device joined, without its pass or with a forged one
      [0, bearer(device.token), 409, 'conflict'],
      [0, { ...bearer(device.token), [SESSION_PASS_HEADER]: forged }, 409, 'conflict'],
      [0, { ...bearer(device.token), [SESSION_PASS_HEADER]: 'x'.repeat(5000) }, 409, 'conflict'],
    ];
    for (const [round, headers, status, slug] of cases) {
      for (const kind of ['step', 'submit'] as const) {
        const res = await send(round, kind, headers);
        const problem = await problemOf(res);
        expect({ round, kind, status: res.status, type: problem.type }).toEqual({
          round,
          kind,
          status,
          type: problemType(slug as never),
        });
      }
    }
    // A round number past the route's nine digits is refused before any object is named.
    const huge = await send(2 ** 31, 'step', roundHeaders(device));
    expect((await problemOf(huge)).type).toBe(problemType('bad-request'));
    expect((await listDurableObjectIds(env.SESSIONS)).length).toBe(before);
    // The joined round, with its pass, still works.
    expect((await step(fid, device, 0, stepBody())).status).toBe(200);
  });
});

describe('out-of-range integer codes', () => {
  it('are 400 malformed-frame code-out-of-range on /v1/models/vit-mnist/infer (int8 -128, int4 -8, int2 -2)', async () => {
    const shape = [2, 17, 64];
    const numel = 2 * 17 * 64;
    const data = Float32Array.from({ length: numel }, (_, i) => Math.sin(i) * 3);
    for (const encoding of ['int8', 'int4', 'int2'] as const) {
      for (const granularity of ['tensor', 'token'] as const) {
        const frame = encodeFrame({ shape, data }, { encoding, granularity });
        expect((await postFrame('/v1/models/vit-mnist/infer', frame)).status).toBe(200);
        const res = await postFrame(
          '/v1/models/vit-mnist/infer',
          withOutOfRangeCode(frame, numel, BITS[encoding]),
        );
        await expectRefused(res, 400, 'malformed-frame', 'code-out-of-range');
      }
    }
  });

  it('is 400 malformed-frame code-out-of-range on a training step, which is not applied', async () => {
    const { fid, device } = await joinedDevice();
    await expectRefused(
      await step(fid, device, 0, stepBody('int8', true)),
      400,
      'malformed-frame',
      'code-out-of-range',
    );
    // the refused step did not take seq 0
    expect((await step(fid, device, 0, stepBody())).status).toBe(200);
    await expectRefused(
      await step(fid, device, 1, stepBody('int8', true)),
      400,
      'malformed-frame',
      'code-out-of-range',
    );
  });
});
