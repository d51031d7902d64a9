// A SplitFed V2 federation (config.splitfed): tickets say the round's tail is
// shared, and the round publishes that one tail as the latest reading any
// submission carried (the most steps), with the heads averaged as usual.
import { describe, expect, it } from 'vitest';
import {
  config,
  coordinator,
  decode,
  encode,
  federation,
  maxAbsDiff,
  problem,
  TRAINABLES,
  update,
  value,
  values,
  weightedMean,
} from './fixtures.js';

const HEAD = TRAINABLES.filter((t) => t.owner === 'head').map((t) => t.name);
const TAIL = TRAINABLES.filter((t) => t.owner === 'tail').map((t) => t.name);

describe('a shared-tail (v2) round', () => {
  it('publishes the reading with the most steps as the tail and the weighted mean of the heads', async () => {
    const { stub } = await federation('v2-publish', {
      devices: 2,
      config: { splitfed: 'v2', clientsPerRound: 2, quorum: 2, strategy: { kind: 'fedavg' } },
    });
    value(await stub.start());
    for (const d of ['d0', 'd1']) expect(value(await stub.join(d)).ticket.splitfed).toBe('v2');
    const a = { vals: values(31), n: 12 };
    const b = { vals: values(32), n: 30 };
    // d1's reading was taken later (5 steps) but arrives first; d0's older one must not replace it.
    value(await stub.submit({ ...update('d1', 0, b.vals, b.n), sharedTailSteps: 5 }));
    value(await stub.submit({ ...update('d0', 0, a.vals, a.n), sharedTailSteps: 3 }));

    const published = decode(value(await stub.adapters(1, 'all')));
    const heads = weightedMean([a, b]);
    for (const name of HEAD)
      expect(maxAbsDiff(published.get(name)!, heads.get(name)!), name).toBeLessThan(1e-6);
    for (const name of TAIL) expect(maxAbsDiff(published.get(name)!, b.vals.get(name)!), name).toBe(0);
  });

  it('refuses a submission without a tail reading in a v2 round, and one with a reading in a v1 round', async () => {
    const shared = await federation('v2-needs-reading', {
      devices: 1,
      config: { splitfed: 'v2', quorum: 1, strategy: { kind: 'fedavg' } },
    });
    value(await shared.stub.start());
    value(await shared.stub.join('d0'));
    expect(problem(await shared.stub.submit(update('d0', 0, values(3), 4)))).toBe('bad-request');

    const own = await federation('v1-no-reading', { devices: 1, config: { quorum: 1 } });
    value(await own.stub.start());
    expect(value(await own.stub.join('d0')).ticket.splitfed).toBeUndefined();
    expect(problem(await own.stub.submit({ ...update('d0', 0, values(3), 4), sharedTailSteps: 1 }))).toBe(
      'bad-request',
    );
  });

  it('with splitfed auto, shares the tail when the selected devices outnumber the edge’s sessions', async () => {
    const autoFederation = async (id: string, edgeSessions: number) => {
      const stub = coordinator(id);
      value(
        await stub.create({
          id,
          config: config({
            splitfed: 'auto',
            strategy: { kind: 'fedavg' },
            clientsPerRound: 2,
            quorum: 2,
            planning: { uplinkBudgetBps: 1e6, edgeSessions },
          }),
          trainables: TRAINABLES,
          initial: encode(values(1), 'all'),
          cut: 'embed',
          cuts: [
            {
              modelId: 'vit-mnist',
              id: 'embed',
              depth: 0,
              sampleShape: [4, 2],
              encodings: ['int8'],
              head: HEAD,
            },
          ],
        }),
      );
      for (const d of ['d0', 'd1']) value(await stub.enroll(d));
      return { stub, round: value(await stub.start()) };
    };
    const crowded = await autoFederation('v2-auto', 1);
    expect(crowded.round.splitfed).toBe('v2');
    expect(crowded.round.plan?.splitfed).toBe('v2');
    expect(value(await crowded.stub.join('d0')).ticket.splitfed).toBe('v2');

    const roomy = await autoFederation('v1-auto', 2);
    expect(roomy.round.splitfed).toBe('v1');
    expect(value(await roomy.stub.join('d0')).ticket.splitfed).toBeUndefined();
  });
});
