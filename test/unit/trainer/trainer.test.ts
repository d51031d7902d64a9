import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTrainer,
  ProblemError,
  ProtocolError,
  type RoundReport,
  type TrainerOptions,
} from '../../../client-sdk/node.js';
import { epochOrder } from '../../../client-sdk/trainer/local-data.js';
import { distanceCorrelation } from '../../../common/distance-correlation.js';
import { crc32, encodeFrame, FrameError } from '../../../protocol/index.js';
import { decodeStepRequest, encodeStepAnswer } from '../../../protocol/step.js';
import { startServer, type TestServer } from '../client-sdk/fixtures/http-server.js';
import {
  dataset,
  FEATURES,
  FED,
  fakeFederation,
  MODEL_ID,
  PIXELS,
  readUpdate,
  STEP_LOSS,
  sendProblem,
  stubSessionFactory,
  ticket,
  W0,
} from './fixtures.js';

let server: TestServer;

beforeEach(async () => {
  server = await startServer();
});

afterEach(async () => {
  await server.close();
});

function trainer(options: Partial<TrainerOptions> = {}) {
  return createTrainer({
    baseUrl: server.baseUrl,
    federationId: FED,
    token: 'device-token',
    dataset: dataset(10),
    sessionFactory: stubSessionFactory,
    retryPolicy: { baseDelayMs: 1, maxDelayMs: 5 },
    ...options,
  });
}

/**
 * The head after SGD (lr 0.1) on the batches in trainer order, with dL/d(embed)
 * = embed, plus `alpha` times the NoPeek penalty's gradient.
 */
function expectedHead(
  size: number,
  batchSize: number,
  round: number,
  seed: number,
  epochs = 1,
  alpha = 0,
): Float32Array {
  const data = dataset(size);
  const w = Float64Array.from(W0);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = epochOrder(size, seed, round, epoch);
    for (let start = 0; start < size; start += batchSize) {
      const rows = Array.from(order.subarray(start, start + batchSize));
      const x = (r: number, k: number) => data.pixels[rows[r] * PIXELS + k];
      const embed = rows.map((_, r) =>
        Array.from({ length: FEATURES }, (_, j) => {
          let s = 0;
          for (let k = 0; k < PIXELS; k++) s += x(r, k) * Math.fround(w[k * FEATURES + j]);
          return Math.fround(s);
        }),
      );
      const penalty =
        alpha > 0 && rows.length > 1
          ? distanceCorrelation(
              rows.flatMap((_, r) => Array.from({ length: PIXELS }, (_, k) => x(r, k))),
              embed.flat(),
              rows.length,
            ).gradient
          : null;
      const dEmbed = (r: number, j: number) =>
        Math.fround(embed[r][j] + (penalty ? alpha * penalty[r * FEATURES + j] : 0));
      const grad = new Float64Array(w.length);
      rows.forEach((_, r) => {
        for (let k = 0; k < PIXELS; k++)
          for (let j = 0; j < FEATURES; j++) grad[k * FEATURES + j] += x(r, k) * dEmbed(r, j);
      });
      for (let i = 0; i < w.length; i++) w[i] = Math.fround(w[i] - 0.1 * Math.fround(grad[i]));
    }
  }
  return Float32Array.from(w);
}

describe('trainer.runRound', () => {
  it('joins, trains every local batch in sequence and submits the head update', async () => {
    const fed = fakeFederation(server, ticket({ localEpochs: 2 }));
    const t = trainer({ seed: 5 });
    const events: string[] = [];
    t.on('joined', () => events.push('joined'));
    t.on('step', (e) => events.push(`step ${e.epoch}/${e.step}`));
    t.on('submitted', () => events.push('submitted'));

    const report = (await t.runRound()) as RoundReport;

    // 10 examples in batches of 4: 3 steps per epoch, 2 epochs.
    expect(fed.applied).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events).toEqual([
      'joined',
      'step 0/1',
      'step 0/2',
      'step 0/3',
      'step 1/4',
      'step 1/5',
      'step 1/6',
      'submitted',
    ]);
    expect(report).toMatchObject({
      round: 3,
      version: 2,
      steps: 6,
      samples: 10,
      samplesProcessed: 20,
      meanLoss: expect.closeTo(STEP_LOSS, 6),
      accuracy: 6 / 20,
      participants: 1,
      duplicate: false,
    });
    expect(report.stoppedEarly).toBeUndefined();
    const stepBytes = server.requests
      .filter((r) => r.path.includes('/steps/'))
      .reduce((s, r) => s + r.body.length, 0);
    expect(report.uplinkBytes).toBe(stepBytes);
    expect(report.downlinkBytes).toBeGreaterThan(0);

    const { w, meta } = readUpdate(fed.submits[0].body);
    const want = expectedHead(10, 4, 3, 5, 2);
    for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(want[i], 5);
    // The claim is what the session observed: every step's labels over both epochs.
    expect(meta).toMatchObject({ sampleCount: 20, steps: 6, accuracy: 6 / 20 });
    expect(meta.sampleCount).toBe(report.samplesProcessed);
    expect(meta.sampleCount).toBe(fed.labels.flat().length);
    expect(meta.idempotencyKey).toMatch(new RegExp(`^${FED}/3/dev-1/[0-9a-f]{16}$`));
    expect(fed.submits[0].headers['content-type']).toBe('application/vnd.splitflare.update');
    expect(fed.submits[0].headers.authorization).toBe('Bearer device-token');
  });

  it("adds the ticket's activation noise to what it sends, and only then", async () => {
    const run = async (activationNoise?: number) => {
      const fed = fakeFederation(
        server,
        ticket({ localEpochs: 2, ...(activationNoise ? { activationNoise } : {}) }),
      );
      await trainer({ seed: 5 }).runRound();
      return readUpdate(fed.submits[0].body).w;
    };
    const want = expectedHead(10, 4, 3, 5, 2);
    const clean = await run();
    for (let i = 0; i < clean.length; i++) expect(clean[i]).toBeCloseTo(want[i], 5);
    // The fake server echoes the activation it received as the gradient, so noise on the wire moves the head.
    const noisy = await run(0.5);
    expect(Math.max(...noisy.map((x, i) => Math.abs(x - want[i])))).toBeGreaterThan(1e-3);
  });

  it("adds the ticket's NoPeek penalty to the gradient the head's backward takes", async () => {
    const fed = fakeFederation(server, ticket({ localEpochs: 2, decorrelation: 0.7 }));
    await trainer({ seed: 5 }).runRound();
    const w = readUpdate(fed.submits[0].body).w;
    const want = expectedHead(10, 4, 3, 5, 2, 0.7);
    const without = expectedHead(10, 4, 3, 5, 2);
    for (let i = 0; i < w.length; i++) expect(w[i]).toBeCloseTo(want[i], 4);
    expect(Math.max(...want.map((x, i) => Math.abs(x - without[i])))).toBeGreaterThan(1e-3);
  });

  it('shuffles reproducibly from its seed, differently per epoch', async () => {
    const labelsOf = async (seed: number) => {
      const fed = fakeFederation(server, ticket({ localEpochs: 2, batchSize: 10 }));
      await trainer({ seed }).runRound();
      return fed.labels;
    };
    const a = await labelsOf(1);
    expect(await labelsOf(1)).toEqual(a);
    expect(a[0]).not.toEqual(a[1]);
    expect(await labelsOf(2)).not.toEqual(a);
  });

  it('loads the training graphs once across rounds', async () => {
    fakeFederation(server);
    const t = trainer();
    await t.runRound();
    await t.runRound();
    expect(server.count('/training/headForward')).toBe(1);
    expect(server.count('/training/headBackward')).toBe(1);
    expect(server.count('/manifest')).toBe(1);
  });

  it.each([
    ['not-selected', 'not-selected'],
    ['no-open-round', 'no-open-round'],
    ['federation-finished', 'finished'],
  ] as const)('sits out on %s', async (slug, reason) => {
    const fed = fakeFederation(server);
    fed.join = (res) => sendProblem(res, slug, 409);
    const t = trainer();
    const skipped: string[] = [];
    t.on('skipped', (e) => skipped.push(e.reason));
    expect(await t.runRound()).toEqual({ skipped: reason });
    expect(skipped).toEqual([reason]);
    expect(server.count('/manifest')).toBe(0);
  });

  it('retries a step that failed transiently with the same seq', async () => {
    const fed = fakeFederation(server);
    fed.step = (seq, res, attempt) => {
      if (seq === 1 && attempt === 1) {
        sendProblem(res, 'unavailable', 503);
        return 'handled';
      }
      if (seq === 2 && attempt === 1) {
        res.socket?.destroy();
        return 'handled';
      }
      return 'answer';
    };
    const report = (await trainer().runRound()) as RoundReport;
    expect(fed.applied).toEqual([0, 1, 2]);
    expect(report.steps).toBe(3);
    const paths = server.requests
      .filter((r) => r.path.includes('/steps/'))
      .map((r) => r.path.split('/').pop());
    expect(paths).toEqual(['0', '1', '1', '2', '2']);
  });

  it('moves on when a step was applied but its answer was lost', async () => {
    const fed = fakeFederation(server);
    fed.step = (seq, _res, attempt) => (seq === 1 && attempt === 1 ? 'apply-and-drop' : 'answer');
    const report = (await trainer().runRound()) as RoundReport;
    // The retry of seq 1 gets 409 expecting 2: the batch trained the tail, not the head.
    expect(fed.applied).toEqual([0, 1, 2]);
    expect(report.steps).toBe(2);
    expect(report.samples).toBe(10);
    // The lost step's labels were observed by the session, so they are claimed;
    // loss and accuracy average over the 6 answered examples only.
    expect(report.samplesProcessed).toBe(10);
    expect(report.accuracy).toBe(2 / 6);
    expect(report.meanLoss).toBeCloseTo(STEP_LOSS, 6);
    const { meta } = readUpdate(fed.submits[0].body);
    expect(meta).toMatchObject({ sampleCount: 10, steps: 2 });
    expect(meta.sampleCount).toBe(fed.labels.flat().length);
  });

  it('refuses a gradient frame with an out-of-range code (-128 at int8) as a ProtocolError', async () => {
    const fed = fakeFederation(server);
    fed.step = (_seq, res) => {
      const request = decodeStepRequest(server.requests[server.requests.length - 1].body);
      const gradient = encodeFrame(
        { shape: request.header.shape, data: new Float32Array(request.header.numel).fill(0.5) },
        { encoding: 'int8', granularity: 'tensor' },
      );
      // Element 0's code becomes -128, the CRC is made right again: only the level is wrong.
      gradient[gradient.length - 4 - request.header.numel] = 0x80;
      const end = gradient.length - 4;
      new DataView(gradient.buffer).setUint32(end, crc32(gradient.subarray(0, end)), true);
      res
        .writeHead(200, { 'content-type': 'application/vnd.splitflare.step-answer' })
        .end(encodeStepAnswer({ loss: STEP_LOSS, correct: 0, gradient }));
      return 'handled';
    };
    const err = await trainer()
      .runRound()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProtocolError);
    const cause = (err as ProtocolError).cause;
    expect(cause).toBeInstanceOf(FrameError);
    expect((cause as FrameError).code).toBe('code-out-of-range');
    expect(fed.submits).toHaveLength(0);
  });

  it('waits as a 429 paced says and sends the same step again, more times than its retries allow', async () => {
    const fed = fakeFederation(server);
    fed.step = (seq, res, attempt) => {
      if (seq !== 1 || attempt > 5) return 'answer';
      sendProblem(res, 'paced', 429, { retryAfterMs: 5 }, { 'retry-after': '1' });
      return 'handled';
    };
    const report = (await trainer({ retries: 1 }).runRound()) as RoundReport;
    expect(report).toMatchObject({ steps: 3, samples: 10 });
    expect(fed.applied).toEqual([0, 1, 2]);
  });

  it('holds its steps to the rate its ticket plans', async () => {
    const rateBps = 8000; // a byte per millisecond
    const fed = fakeFederation(
      server,
      ticket({ plan: { share: 1, rateBps, latencyS: 1, energyJ: 0, paced: true } }),
    );
    const arrivals: Array<{ at: number; bytes: number }> = [];
    fed.step = (_seq, _res, _attempt, body) => {
      arrivals.push({ at: performance.now(), bytes: body.byteLength });
      return 'answer';
    };
    const report = (await trainer().runRound()) as RoundReport;
    expect(report.steps).toBe(3);
    // Each step after the first waits for the one before it to have gone at the planned rate.
    for (let i = 1; i < arrivals.length; i++) {
      expect(arrivals[i].at - arrivals[i - 1].at).toBeGreaterThanOrEqual(arrivals[i].bytes * 0.95 - 2);
    }
  });

  it('takes only the steps its ticket plans, and submits them as the round’s work', async () => {
    const fed = fakeFederation(
      server,
      ticket({ plan: { share: 1, rateBps: 1e9, latencyS: 1, energyJ: 0, paced: false, steps: 2 } }),
    );
    const report = (await trainer().runRound()) as RoundReport;
    expect(report).toMatchObject({ steps: 2, samples: 8 });
    expect(report.stoppedEarly).toBeUndefined();
    expect(fed.applied).toEqual([0, 1]);
    expect(readUpdate(fed.submits[0].body).meta.sampleCount).toBe(8);
  });

  it('calibrates a cut without sending anything and reports it, with its examples, at the next join', async () => {
    fakeFederation(server);
    const radio = { channelGain: 1e-11, maxPowerW: 0.2 };
    const t = trainer({ power: { computeW: 3, radioW: 1 }, radio });
    const { cut, msPerSample } = await t.calibrate(MODEL_ID);
    expect(msPerSample).toBeGreaterThan(0);
    expect(server.requests.some((r) => r.path.includes('/steps/') || r.path.endsWith('/join'))).toBe(false);
    await t.runRound();
    const join = server.requests.find((r) => r.path.endsWith('/join'))!;
    const { profile } = JSON.parse(new TextDecoder().decode(join.body));
    expect(profile.headMsPerSample[cut]).toBeCloseTo(msPerSample, 9);
    expect(profile).toMatchObject({ samples: 10, power: { computeW: 3, radioW: 1 }, radio });
  });

  it('stops early on budget-exhausted and submits what it trained', async () => {
    const fed = fakeFederation(server);
    fed.step = (seq, res) => {
      if (seq < 2) return 'answer';
      sendProblem(res, 'budget-exhausted', 429, {}, { 'retry-after': '600' });
      return 'handled';
    };
    const report = (await trainer().runRound()) as RoundReport;
    expect(report).toMatchObject({ steps: 2, samples: 8, stoppedEarly: 'budget-exhausted' });
    expect(readUpdate(fed.submits[0].body).meta.sampleCount).toBe(8);
  });

  it('does not send a step the server-reported budget cannot cover', async () => {
    // A full step (4 rows, fp32) costs 76 bytes up and 72 down; the last one (2 rows) 112: leave room for two.
    const fed = fakeFederation(server, ticket({ budgetBytes: 350 }));
    const report = (await trainer().runRound()) as RoundReport;
    expect(report.stoppedEarly).toBe('budget-exhausted');
    expect(fed.applied).toEqual([0, 1]);
    expect(server.count('/steps/2')).toBe(0);
  });

  it('stops before the deadline, leaving room for the submit', async () => {
    let clock = 1_000_000;
    const fed = fakeFederation(server, ticket({ deadline: 1_000_000 + 7_500 }));
    fed.step = () => {
      clock += 1_000;
      return 'answer';
    };
    const report = (await trainer({ now: () => clock, deadlineMarginMs: 5_000 }).runRound()) as RoundReport;
    expect(report.stoppedEarly).toBe('deadline');
    expect(report.steps).toBe(2);
  });

  it('retries the submit with the same idempotency key', async () => {
    const fed = fakeFederation(server);
    fed.submit = (res, attempt) => {
      if (attempt > 1) return 'answer';
      res.socket?.destroy();
      return 'handled';
    };
    const report = (await trainer().runRound()) as RoundReport;
    expect(fed.submits).toHaveLength(2);
    expect(readUpdate(fed.submits[1].body).meta.idempotencyKey).toBe(
      readUpdate(fed.submits[0].body).meta.idempotencyKey,
    );
    expect(report.duplicate).toBe(true);
  });

  it('reports round-closed when the round ends under it', async () => {
    const fed = fakeFederation(server);
    fed.step = (seq, res) => {
      if (seq === 0) return 'answer';
      sendProblem(res, 'round-closed', 409);
      return 'handled';
    };
    expect(await trainer().runRound()).toEqual({ skipped: 'round-closed' });
    expect(fed.submits).toHaveLength(0);
  });

  it('reports finished when the federation is closed before the submit lands', async () => {
    const fed = fakeFederation(server);
    fed.submit = (res) => {
      sendProblem(res, 'federation-finished', 409);
      return 'handled';
    };
    expect(await trainer().runRound()).toEqual({ skipped: 'finished' });
  });

  it('throws other problems as ProblemError', async () => {
    const fed = fakeFederation(server);
    fed.step = (_seq, res) => {
      sendProblem(res, 'bad-request', 400);
      return 'handled';
    };
    await expect(trainer().runRound()).rejects.toBeInstanceOf(ProblemError);
  });

  it('refuses a graph whose sha256 differs from the manifest', async () => {
    const fed = fakeFederation(server);
    fed.backwardBytes = new TextEncoder().encode('stub:head_backwarD');
    await expect(trainer().runRound()).rejects.toMatchObject({ code: 'integrity' });
    expect(server.count('/steps/0')).toBe(0);
  });

  it('rejects a dataset that does not fit the model', async () => {
    fakeFederation(server);
    const bad = { ...dataset(4), pixels: new Float32Array(3) };
    await expect(trainer({ dataset: bad }).runRound()).rejects.toMatchObject({ code: 'input' });
  });
});
