// The step path of ClientSession inside workerd, on the real vit-fashion tail
// graph and real Fashion-MNIST activations.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../common/random.js';
import { roundingSeed } from '../../../durable-objects/session/seed.js';
import { decodeFrame, encodeFrame, frameSize } from '../../../protocol/frame.js';
import { decodeStepAnswer, encodeStepRequest, stepAnswerSize } from '../../../protocol/step.js';
import {
  activation,
  activationFrame,
  BATCH,
  expectOk,
  expectProblem,
  labels,
  lossOf,
  openSession,
  stepBody,
  TOKENS,
  WIDTH,
} from './fixtures.js';

describe('a training step', () => {
  it('answers the loss, the correct count and a decodable gradient of the activation shape', async () => {
    const { stub, ticket } = await openSession();
    const body = stepBody();
    const value = expectOk(await stub.step(0, body));
    const answer = decodeStepAnswer(value.answer);
    expect(answer.loss).toBeGreaterThan(0);
    expect(answer.loss).toBeLessThan(10);
    expect(answer.correct).toBeGreaterThanOrEqual(0);
    expect(answer.correct).toBeLessThanOrEqual(BATCH);
    expect(answer.header.shape).toEqual([BATCH, TOKENS, WIDTH]);
    expect(answer.header.encoding).toBe(ticket.downlink);
    const gradient = decodeFrame(answer.frame).data;
    expect(gradient.some((g) => g !== 0)).toBe(true);
    expect(value.bytesUsed).toBe(body.length + value.answer.length);
    expect(value.answer.length).toBe(stepAnswerSize(frameSize([BATCH, TOKENS, WIDTH], 'int8', 'token')));
    expect(value.budgetBytes).toBe(ticket.budgetBytes);
    const status = await stub.status();
    expect(status).toMatchObject({ nextSeq: 1, samples: BATCH, uplinkBytes: body.length, shardSteps: [1] });
  });

  it('lowers the loss over repeated steps on the same batch', async () => {
    const { stub } = await openSession();
    const body = stepBody();
    const losses: number[] = [];
    for (let seq = 0; seq < 6; seq++) losses.push(lossOf(expectOk(await stub.step(seq, body)).answer));
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.8);
  });

  it('sends the gradient in the downlink encoding with seeded stochastic rounding', async () => {
    // An fp32 downlink carries the exact gradient; the int8 session computes the same one.
    const exact = await openSession({ downlink: 'fp32' });
    const { stub, ticket } = await openSession({ downlink: 'int8' });
    const body = stepBody();
    const g32 = decodeFrame(decodeStepAnswer(expectOk(await exact.stub.step(0, body)).answer).frame).data;
    const answer = decodeStepAnswer(expectOk(await stub.step(0, body)).answer);
    const shape = [BATCH, TOKENS, WIDTH];
    const stochastic = encodeFrame(
      { shape, data: g32 },
      { encoding: 'int8', rounding: 'stochastic', random: mulberry32(roundingSeed(ticket, 0)) },
    );
    expect(answer.frame).toEqual(stochastic);
    expect(answer.frame).not.toEqual(encodeFrame({ shape, data: g32 }, { encoding: 'int8' }));
  });
});

describe('retries and ordering', () => {
  it('answers a retry of the last step with the stored bytes and trains nothing', async () => {
    const { stub } = await openSession();
    const body = stepBody();
    const first = expectOk(await stub.step(0, body));
    const before = await stub.status();
    const again = expectOk(await stub.step(0, body));
    expect(again.answer).toEqual(first.answer);
    expect(again.bytesUsed).toBe(first.bytesUsed);
    expect(await stub.status()).toEqual(before);
    // A body that is not the one step 0 took is not a retry.
    const other = expectProblem(await stub.step(0, stepBody('int8', 4)), 'out-of-order-step');
    expect(other.extensions).toEqual({ expected: 1 });
  });

  it('serialises concurrent deliveries of the same step: one trains, the other gets its answer', async () => {
    const { stub } = await openSession();
    const body = stepBody();
    const [a, b] = await Promise.all([stub.step(0, body), stub.step(0, body)]);
    expect(expectOk(a).answer).toEqual(expectOk(b).answer);
    expect(await stub.status()).toMatchObject({ nextSeq: 1, shardSteps: [1], samples: BATCH });
  });

  it('refuses steps ahead of the next one and replays older than the last one with 409', async () => {
    const { stub } = await openSession();
    const body = stepBody();
    expect(expectProblem(await stub.step(1, body), 'out-of-order-step').extensions).toEqual({ expected: 0 });
    expectOk(await stub.step(0, body));
    expectOk(await stub.step(1, body));
    expect(expectProblem(await stub.step(0, body), 'out-of-order-step').extensions).toEqual({ expected: 2 });
    expect(expectProblem(await stub.step(7, body), 'out-of-order-step').extensions).toEqual({ expected: 2 });
    expect(await stub.status()).toMatchObject({ nextSeq: 2, shardSteps: [2] });
  });

  it('refuses a seq that is not a non-negative integer', async () => {
    const { stub } = await openSession();
    expectProblem(await stub.step(-1, stepBody()), 'bad-request');
    expectProblem(await stub.step(0.5, stepBody()), 'bad-request');
  });
});

describe('client input never trains and never causes a 5xx', () => {
  const cases: Array<[string, () => Uint8Array, string, string?]> = [
    ['empty body', () => new Uint8Array(0), 'malformed-frame', 'truncated'],
    [
      'foreign bytes',
      () => new TextEncoder().encode('definitely not a step'),
      'malformed-frame',
      'bad-magic',
    ],
    ['truncated body', () => stepBody().subarray(0, 100), 'malformed-frame'],
    [
      'a flipped payload bit',
      () => {
        const b = stepBody();
        b[b.length - 50] ^= 4;
        return b;
      },
      'malformed-frame',
      'bad-crc',
    ],
    [
      'a label out of range',
      () =>
        encodeStepRequest({
          activation: activationFrame(),
          labels: labels.map((y, i) => (i === 2 ? 10 : y)),
        }),
      'bad-request',
      'bad-label',
    ],
    [
      'fewer labels than rows',
      () => {
        const one = encodeStepRequest({ activation: activationFrame('int8', 7), labels: labels.slice(0, 7) });
        const frame = activationFrame();
        // 7 labels pad to 16 bytes: the envelope is 12 + 16 + 4 bytes.
        return Uint8Array.from([...one.subarray(0, 32), ...frame]);
      },
      'bad-request',
      'label-count-mismatch',
    ],
    ['an fp16 activation in an int8 round', () => stepBody('fp16'), 'encoding-not-allowed'],
    [
      'a wrong token count',
      () =>
        encodeStepRequest({
          activation: encodeFrame(
            { shape: [BATCH, TOKENS - 1, WIDTH], data: activation.slice(0, BATCH * (TOKENS - 1) * WIDTH) },
            { encoding: 'int8' },
          ),
          labels,
        }),
      'shape-not-allowed',
    ],
    [
      'a wrong rank',
      () =>
        encodeStepRequest({
          activation: encodeFrame({ shape: [BATCH, TOKENS * WIDTH], data: activation }, { encoding: 'int8' }),
          labels,
        }),
      'shape-not-allowed',
    ],
  ];

  it.each(cases)('%s → %s', async (_, body, slug, code) => {
    const { stub } = await openSession();
    const before = await stub.status();
    const failure = expectProblem(await stub.step(0, body()), slug as never);
    if (code) expect(failure.extensions?.code).toBe(code);
    expect(await stub.status()).toEqual(before);
    // The session still takes step 0 afterwards.
    expectOk(await stub.step(0, stepBody()));
  });

  it('refuses a batch over the round batch size with shape-not-allowed', async () => {
    const { stub } = await openSession({ batchSize: 4 });
    expectProblem(await stub.step(0, stepBody('int8', BATCH)), 'shape-not-allowed');
    expectOk(await stub.step(0, stepBody('int8', 4)));
  });
});

describe('budget and deadline', () => {
  it('refuses a step that would exceed the byte budget, with retryAfter, training nothing', async () => {
    const body = stepBody();
    const perStep = body.length + stepAnswerSize(frameSize([BATCH, TOKENS, WIDTH], 'int8', 'token'));
    const { stub, ticket } = await openSession({ budgetBytes: perStep + perStep - 1 });
    expectOk(await stub.step(0, body));
    const before = await stub.status();
    const failure = expectProblem(await stub.step(1, body), 'budget-exhausted');
    expect(failure.retryAfter).toBeGreaterThanOrEqual(1);
    expect(failure.retryAfter).toBeLessThanOrEqual(Math.ceil((ticket.deadline - Date.now()) / 1000) + 1);
    expect(await stub.status()).toEqual(before);
    // A smaller batch still fits, and the retry of step 0 is free.
    expectOk(await stub.step(0, body));
    expectOk(await stub.step(1, stepBody('int8', 1)));
  });

  it('closes the session at the ticket deadline', async () => {
    const { stub } = await openSession({ deadline: Date.now() + 1500 });
    const body = stepBody();
    expectOk(await stub.step(0, body));
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expectProblem(await stub.step(1, body), 'round-closed');
    expectProblem(await stub.step(0, body), 'round-closed');
  });
});
