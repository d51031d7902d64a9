import { describe, expect, it } from 'vitest';
import type { GradSession } from '../../../models/train/grad-session.js';
import { LocalDivergence, trainLocalRound } from '../../../scripts/sim/baseline/local.js';
import type { Params } from '../../../scripts/sim/baseline/model.js';

/** A stand-in session: loss 1, logits favouring class 0, and a gradient of 1 for every trainable. */
function fakeSession(batches: number[]) {
  return {
    async step(_pixels: Float32Array, shape: readonly number[], _labels: ArrayLike<number>, t: Params) {
      batches.push(shape[0]);
      const logits = new Float32Array(shape[0] * 2);
      for (let i = 0; i < shape[0]; i++) logits[2 * i] = 1;
      const grads = Object.fromEntries(
        Object.entries(t).map(([n, v]) => [n, new Float32Array(v.data.length).fill(1)]),
      );
      return { loss: 1, logits, grads };
    },
  } as unknown as GradSession;
}

const data = {
  size: 10,
  pixels: new Float32Array(10 * 4),
  labels: Int32Array.from([0, 1, 0, 1, 0, 0, 0, 1, 1, 0]),
};

describe('baseline local round', () => {
  it('runs the local epochs in batches, steps a fresh optimizer and leaves the global version alone', async () => {
    const global: Params = { w: { dims: [2], data: Float32Array.of(1, 2) } };
    const batches: number[] = [];
    const { params, tally } = await trainLocalRound({
      session: fakeSession(batches),
      global,
      data,
      exampleShape: [1, 2, 2],
      classes: 2,
      optimizer: { kind: 'sgd', lr: 0.5, momentum: 0, weightDecay: 0 },
      localEpochs: 2,
      batch: 4,
      seed: 7,
      round: 0,
    });
    expect(batches).toEqual([4, 4, 2, 4, 4, 2]);
    // Six plain SGD steps of lr 0.5 on a gradient of 1.
    expect([...params.w.data]).toEqual([-2, -1]);
    expect([...global.w.data]).toEqual([1, 2]);
    expect(tally.samples).toBe(10);
    // What an update claims and FedAvg weights by: every step's examples, both epochs.
    expect(tally.processed).toBe(20);
    expect(tally.steps).toBe(6);
    expect(tally.meanLoss).toBe(1);
    expect(tally.accuracy).toBeCloseTo(0.6);
  });

  it('stops with LocalDivergence at a non-finite loss: the device has nothing to send', async () => {
    const session = {
      async step(_p: Float32Array, shape: readonly number[]) {
        return { loss: Number.NaN, logits: new Float32Array(shape[0] * 2), grads: {} };
      },
    } as unknown as GradSession;
    const run = trainLocalRound({
      session,
      global: { w: { dims: [2], data: Float32Array.of(1, 2) } },
      data,
      exampleShape: [1, 2, 2],
      classes: 2,
      optimizer: { kind: 'sgd', lr: 0.5, momentum: 0, weightDecay: 0 },
      localEpochs: 1,
      batch: 4,
      seed: 7,
      round: 3,
    });
    await expect(run).rejects.toBeInstanceOf(LocalDivergence);
    await expect(run).rejects.toThrow(/diverged in round 3 at step 0/);
  });
});
