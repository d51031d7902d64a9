// ClientSession's life: init (idempotent), steps across an eviction, finish.
// The trained tail is checked against an independent replay of the same steps
// (ORT on the tail_train graph plus the optimizer, run here in the test).
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sgd } from '../../../common/optim/index.js';
import { argmaxRows } from '../../../common/predictions.js';
import { parseSafetensors } from '../../../common/safetensors.js';
import { loadOrt } from '../../../edge/ort-wasm.js';
import { withSession } from '../../../edge/sessions.js';
import { decodeFrame } from '../../../protocol/frame.js';
import { decodeStepAnswer, decodeStepRequest } from '../../../protocol/step.js';
import {
  expectOk,
  expectProblem,
  freshName,
  initialTail,
  model,
  openSession,
  SGD,
  sessionStub,
  stepBody,
  ticketFor,
  training,
} from './fixtures.js';

const tailSpecs = training.trainables.filter((t) => t.owner === 'tail');

function tailValues(file: Uint8Array): Record<string, Float32Array> {
  const tensors = parseSafetensors(file);
  return Object.fromEntries(
    tailSpecs.map((s) => [s.name, (tensors.get(s.name)!.data as Float32Array).slice()]),
  );
}

/** What the session should have done, replayed here: tail_train on ORT, then SGD. */
async function replay(bodies: Uint8Array[]) {
  const ort = await loadOrt();
  const tailTrain = training.artifacts.tailTrain!;
  return withSession(
    tailTrain,
    async () => model.bytes(tailTrain),
    async (session) => {
      const params = tailValues(initialTail);
      const optimizer = sgd({ lr: SGD.lr, momentum: SGD.kind === 'sgd' ? SGD.momentum : 0 });
      const results: Array<{ loss: number; correct: number }> = [];
      for (const body of bodies) {
        const { labels, frame } = decodeStepRequest(body);
        const { header, data } = decodeFrame(frame);
        const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
          [model.manifest.cut.tensor.name]: new ort.Tensor('float32', data, header.shape),
          labels: new ort.Tensor(
            'int64',
            BigInt64Array.from(labels, (y) => BigInt(y)),
            [labels.length],
          ),
        };
        for (const s of tailSpecs) feeds[s.name] = new ort.Tensor('float32', params[s.name].slice(), s.shape);
        const out = await session.run(feeds);
        const grads = Object.fromEntries(
          tailSpecs.map((s) => [s.name, out[`grad.${s.name}`].data as Float32Array]),
        );
        optimizer.step(params, grads);
        const logits = out.logits.data as Float32Array;
        const predicted = argmaxRows(logits, logits.length / labels.length);
        results.push({
          loss: (out.loss.data as Float32Array)[0],
          correct: labels.filter((y, i) => predicted[i] === y).length,
        });
      }
      return { params, results };
    },
  );
}

describe('init', () => {
  it('is idempotent for the same ticket and refuses a different one', async () => {
    const name = freshName();
    const { stub, ticket } = await openSession({}, SGD, name);
    expectOk(await stub.step(0, stepBody()));
    const again = await stub.init({ ticket, tailOptimizer: SGD, tail: initialTail });
    expect(again).toEqual({ ok: true, value: { seq: 1 } });
    expectProblem(
      await stub.init({ ticket: { ...ticket, version: 3 }, tailOptimizer: SGD, tail: initialTail }),
      'bad-request',
    );
    expect(await stub.status()).toMatchObject({ nextSeq: 1, shardSteps: [1] });
  });

  it('refuses bad tickets, optimizers and tails with 4xx, and steps before init with not-found', async () => {
    const stub = sessionStub(freshName());
    const ticket = ticketFor('d-x');
    expectProblem(await stub.step(0, stepBody()), 'not-found');
    expectProblem(await stub.finish(), 'not-found');
    expectProblem(
      await stub.init({ ticket: { ...ticket, batchSize: 0 }, tailOptimizer: SGD, tail: initialTail }),
      'bad-request',
    );
    expectProblem(
      await stub.init({ ticket, tailOptimizer: { kind: 'sgd', lr: -1 } as never, tail: initialTail }),
      'bad-request',
    );
    expectProblem(await stub.init({ ticket, tailOptimizer: SGD, tail: new Uint8Array(12) }), 'bad-request');
    expectProblem(
      await stub.init({ ticket: { ...ticket, cut: 'block9' }, tailOptimizer: SGD, tail: initialTail }),
      'bad-request',
    );
    expectProblem(
      await stub.init({ ticket: { ...ticket, modelId: 'nope' }, tailOptimizer: SGD, tail: initialTail }),
      'unknown-model',
    );
    expectProblem(
      await stub.init({
        ticket: { ...ticket, deadline: Date.now() - 1 },
        tailOptimizer: SGD,
        tail: initialTail,
      }),
      'round-closed',
    );
    expect(await stub.status()).toEqual({ initialised: false });
    expect(await stub.init({ ticket, tailOptimizer: SGD, tail: initialTail })).toEqual({
      ok: true,
      value: { seq: 0 },
    });
  });
});

describe('eviction', () => {
  it('continues after an eviction exactly as an uninterrupted session would', async () => {
    const bodies = [stepBody('int8', 8), stepBody('int8', 5), stepBody('int8', 8), stepBody('int8', 3)];
    // Two objects with the same ticket: the seed of the rounding noise comes from the ticket, not the object.
    const deviceId = `evict-${Date.now().toString(36)}`;
    const ticket = ticketFor(deviceId);
    const init = {
      ticket,
      tailOptimizer: { kind: 'adamw', lr: 0.01, weightDecay: 0.01 } as const,
      tail: initialTail,
    };
    const steady = sessionStub(`fed-a/0/${deviceId}`);
    const evicted = sessionStub(`fed-b/0/${deviceId}`);
    expectOk(await steady.init(init));
    expectOk(await evicted.init(init));

    const steadyAnswers: Uint8Array[] = [];
    for (const [seq, body] of bodies.entries())
      steadyAnswers.push(expectOk(await steady.step(seq, body)).answer);

    const answers: Uint8Array[] = [];
    answers.push(expectOk(await evicted.step(0, bodies[0])).answer);
    answers.push(expectOk(await evicted.step(1, bodies[1])).answer);
    await evictDurableObject(evicted);
    // The retry of the last acknowledged step survives the eviction byte for byte.
    expect(expectOk(await evicted.step(1, bodies[1])).answer).toEqual(answers[1]);
    answers.push(expectOk(await evicted.step(2, bodies[2])).answer);
    await evictDurableObject(evicted);
    answers.push(expectOk(await evicted.step(3, bodies[3])).answer);

    expect(answers).toEqual(steadyAnswers);
    const { tailTiming: steadyTiming, ...a } = expectOk(await steady.finish());
    const { tailTiming: evictedTiming, ...b } = expectOk(await evicted.finish());
    expect(b.tail).toEqual(a.tail);
    expect(b).toEqual(a);
    // The tail's timing is an estimate kept in memory: the evicted one timed only the steps since it restarted.
    expect(steadyTiming.samples).toBe(a.samples);
    expect(evictedTiming.samples).toBeLessThan(a.samples);
    expect(steadyTiming.ms).toBeGreaterThan(0);
  });
});

describe('finish', () => {
  it('hands over the trained tail, equal to a replay of the same steps, and closes the session', async () => {
    const { stub } = await openSession();
    const bodies = [stepBody('int8', 8), stepBody('int8', 6), stepBody('int8', 8)];
    const answers = [];
    for (const [seq, body] of bodies.entries())
      answers.push(decodeStepAnswer(expectOk(await stub.step(seq, body)).answer));

    const done = expectOk(await stub.finish());
    expect(done.steps).toBe(3);
    expect(done.samples).toBe(22);
    expect(done.uplinkBytes).toBe(bodies.reduce((n, b) => n + b.length, 0));
    expect(done.downlinkBytes).toBe(answers.reduce((n, a) => n + 20 + a.frame.length, 0));

    const trained = tailValues(done.tail);
    const initial = tailValues(initialTail);
    expect(Object.keys(trained).sort()).toEqual(tailSpecs.map((s) => s.name).sort());
    expect(tailSpecs.some((s) => trained[s.name].some((v, i) => v !== initial[s.name][i]))).toBe(true);

    const reference = await replay(bodies);
    for (const s of tailSpecs) expect(trained[s.name], s.name).toEqual(reference.params[s.name]);
    expect(answers.map((a) => a.loss)).toEqual(reference.results.map((r) => Math.fround(r.loss)));
    expect(answers.map((a) => a.correct)).toEqual(reference.results.map((r) => r.correct));

    // Idempotent, and the session takes no further steps.
    expect(expectOk(await stub.finish())).toEqual(done);
    expectProblem(await stub.step(3, stepBody()), 'round-closed');
    expectProblem(await stub.step(2, bodies[2]), 'round-closed');
    expect(await stub.status()).toMatchObject({ finished: true, nextSeq: 3 });
  });
});

describe('clean-up', () => {
  const tables = (stub: ReturnType<typeof sessionStub>) =>
    runInDurableObject(stub, (_i, state) =>
      state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'",
        )
        .toArray()
        .map((r) => r.name),
    );

  it('a session never initialised writes nothing, whatever it is asked', async () => {
    const stub = sessionStub(freshName());
    expectProblem(await stub.step(0, stepBody(), 1), 'not-found');
    expectProblem(await stub.handover(5), 'not-found');
    expectProblem(await stub.finish(9), 'not-found');
    expect(await stub.status()).toEqual({ initialised: false });
    expect(await tables(stub)).toEqual([]);
  });

  it('deletes its storage at the alarm set for an hour past the round deadline', async () => {
    const deadline = Date.now() + 60_000;
    const { stub } = await openSession({ deadline });
    expectOk(await stub.step(0, stepBody()));
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(deadline + 3_600_000);
    expect(await tables(stub)).not.toEqual([]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await tables(stub)).toEqual([]);
    expect(await stub.status()).toEqual({ initialised: false });
  });
});
