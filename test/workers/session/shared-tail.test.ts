// SplitFed V2 at the edge: the round's devices keep their own sessions, and
// their steps take turns on one shared tail (durable-objects/session/
// shared-tail.ts), on the real vit-fashion tail graph.

import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../common/digest.js';
import { pipelineStep, shardStubs } from '../../../durable-objects/session/pipeline-step.js';
import type { SharedTail } from '../../../durable-objects/session/shared-tail.js';
import { SharedTailStore } from '../../../durable-objects/session/shared-tail-store.js';
import type { Ticket } from '../../../protocol/federation.js';
import { decodeFrame } from '../../../protocol/frame.js';
import { decodeStepRequest } from '../../../protocol/step.js';
import {
  expectOk,
  expectProblem,
  initialTail,
  lossOf,
  model,
  openSession,
  SGD,
  sessionStub,
  stepBody,
  ticketFor,
} from './fixtures.js';

let rounds = 0;
/** Sessions of `devices` in one fresh shared-tail round. */
async function sharedRound(devices: string[], overrides: Partial<Ticket> = {}) {
  const fid = `fed-shared-${Date.now().toString(36)}-${++rounds}`;
  // One round, one deadline: the shared tail refuses a ticket of another.
  const round = {
    federationId: fid,
    splitfed: 'v2' as const,
    deadline: Date.now() + 3_600_000,
    ...overrides,
  };
  const sessions = [];
  for (const d of devices) sessions.push(await openSession(round, SGD, `${fid}/0/${d}`));
  return sessions;
}

const sharedStub = (t: Ticket) =>
  env.SHARED_TAILS.get(env.SHARED_TAILS.idFromName(`${t.federationId}/${t.round}/${t.modelId}`));

/** A step body as the shared tail receives it from a session: its digest, floats and labels. */
async function decoded(body: Uint8Array) {
  const step = decodeStepRequest(body);
  const frame = decodeFrame(step.frame);
  return {
    digest: await sha256Hex(body),
    activation: { shape: frame.header.shape, data: frame.data },
    labels: step.labels,
  };
}

describe('a shared tail (SplitFed V2)', () => {
  it('trains a round of one device exactly as the device’s own tail would', async () => {
    const body = stepBody();
    const own = await openSession();
    const [shared] = await sharedRound(['dev-a']);
    for (let seq = 0; seq < 3; seq++) {
      const a = lossOf(expectOk(await own.stub.step(seq, body)).answer);
      const b = lossOf(expectOk(await shared.stub.step(seq, body)).answer);
      expect(b).toBe(a);
    }
    const [x, y] = [await own.stub.status(), await shared.stub.status()];
    if (!x.initialised || !y.initialised) throw new Error('not initialised');
    expect(y.trainablesSha256).toBe(x.trainablesSha256);
    expect(y.shardSteps).toEqual([3]);
  });

  it('takes every device’s steps on one tail, in turn, and replays a retried step without training it again', async () => {
    const body = stepBody();
    const [a, b] = await sharedRound(['dev-a', 'dev-b']);
    const a0 = expectOk(await a.stub.step(0, body)).answer;
    const b0 = expectOk(await b.stub.step(0, body)).answer;
    // b's first step met a tail a had already trained once: the same batch now has a lower loss.
    expect(lossOf(b0)).toBeLessThan(lossOf(a0));
    const a1 = expectOk(await a.stub.step(1, body)).answer;
    expect(expectOk(await a.stub.step(1, body)).answer).toEqual(a1);

    const [sa, sb] = [await a.stub.status(), await b.stub.status()];
    if (!sa.initialised || !sb.initialised) throw new Error('not initialised');
    expect(sa.shardSteps).toEqual([3]);
    expect(sb.trainablesSha256).toBe(sa.trainablesSha256);
    expect([sa.nextSeq, sb.nextSeq]).toEqual([2, 1]);

    // Each device's handover reads the one tail and says how many steps it holds; none closes it.
    const handed = expectOk(await b.stub.finish());
    expect(handed.sharedTailSteps).toBe(3);
    expect(lossOf(expectOk(await a.stub.step(2, body)).answer)).toBeGreaterThan(0);
    expect(expectOk(await a.stub.handover()).sharedTailSteps).toBe(4);
  });

  it('refuses a device whose ticket starts the round from another version', async () => {
    const [a] = await sharedRound(['dev-a']);
    const other = sessionStub(`${a.ticket.federationId}/0/dev-b`);
    const ticket = ticketFor('dev-b', { ...a.ticket, deviceId: 'dev-b', version: 1 });
    expectProblem(await other.init({ ticket, tailOptimizer: SGD, tail: initialTail }), 'bad-request');
  });

  it('finishes a step written ahead and lost before any other device’s, and replays it to its device', async () => {
    const body = stepBody();
    const [a, b] = await sharedRound(['dev-a', 'dev-b']);
    const step = await decoded(body);
    // As if a's session had handed its step over and the object had stopped before the shards ran it.
    await runInDurableObject(sharedStub(a.ticket) as DurableObjectStub<SharedTail>, (_i, state) => {
      new SharedTailStore(state.storage).begin({ deviceId: 'dev-a', seq: 0, digest: step.digest }, step);
    });
    const b0 = expectOk(await b.stub.step(0, body)).answer;
    const status = await b.stub.status();
    expect(status.initialised && status.shardSteps).toEqual([2]);
    // a's step went first: b met a tail trained once, and a's own step is now only replayed.
    const a0 = expectOk(await a.stub.step(0, body)).answer;
    expect(lossOf(b0)).toBeLessThan(lossOf(a0));
    const after = await a.stub.status();
    expect(after.initialised && after.shardSteps).toEqual([2]);
  });

  it('finishes a step the shards committed before the object could, without applying it twice', async () => {
    const body = stepBody();
    const [a, b] = await sharedRound(['dev-a', 'dev-b']);
    const step = await decoded(body);
    await runInDurableObject(sharedStub(a.ticket) as DurableObjectStub<SharedTail>, async (_i, state) => {
      new SharedTailStore(state.storage).begin({ deviceId: 'dev-a', seq: 0, digest: step.digest }, step);
      const stubs = await shardStubs(env, state.id.toString(), model.manifest.pipeline);
      expectOk(await pipelineStep(stubs, 0, step.digest, step.activation, step.labels));
    });
    // b's body differs: had its step taken number 0, the shards would refuse it as already taken.
    expectOk(await b.stub.step(0, stepBody('int8', 4)));
    expectOk(await a.stub.step(0, body));
    const status = await a.stub.status();
    expect(status.initialised && status.shardSteps).toEqual([2]);
  });
});
