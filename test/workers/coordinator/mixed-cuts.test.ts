// A federation that trains at two cuts (config.cuts): the planner gives each
// device a cut it timed, its ticket names that build of the model, and the
// coordinator reads each update as that build splits head and tail. The
// published version is every tensor's sample-weighted mean by name, whichever
// side trained it: the same as aggregating the same updates by hand.
import { describe, expect, it } from 'vitest';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import type { CutSpec } from '../../../strategy/plan/configure.js';
import {
  config,
  coordinator,
  decode,
  encode,
  maxAbsDiff,
  problem,
  TRAINABLES,
  update,
  value,
  values,
  weightedMean,
} from './fixtures.js';

const HEAD = TRAINABLES.filter((t) => t.owner === 'head').map((t) => t.name);
const CUTS: CutSpec[] = [
  { modelId: 'm', id: 'embed', depth: 0, sampleShape: [4, 2], encodings: ['int8', 'int4'], head: HEAD },
  // One block deeper: the first tail tensor moves onto the device.
  {
    modelId: 'm-deep',
    id: 'block0',
    depth: 1,
    sampleShape: [4, 2],
    encodings: ['int8', 'int4'],
    head: [...HEAD, 'tail.fc.lora_A'],
  },
];
const DEEP_SPLIT: TrainableSpec[] = TRAINABLES.map((t) => ({
  ...t,
  owner: CUTS[1].head.includes(t.name) ? 'head' : 'tail',
}));

const PLANNED = {
  modelId: 'm',
  cuts: ['m-deep'],
  clientsPerRound: 2,
  quorum: 2,
  strategy: { kind: 'fedavg' as const },
  planning: { uplinkBudgetBps: 10e6, minUplinkBits: 4, minDownlinkBits: 8 },
};

const link = { uplinkBps: 5e6, downlinkBps: 20e6, rttMs: 20, samples: 40 };

async function mixedFederation(id: string) {
  const stub = coordinator(id);
  const initial = values(11);
  value(
    await stub.create({
      id,
      config: config(PLANNED),
      trainables: TRAINABLES,
      initial: encode(initial, 'all'),
      cut: 'embed',
      cuts: CUTS,
    }),
  );
  for (const d of ['d0', 'd1']) value(await stub.enroll(d));
  // Before the first round: each reports the one cut it timed (no round is open yet).
  expect(problem(await stub.join('d0', undefined, { headMsPerSample: { embed: 1 }, ...link }))).toBe(
    'no-open-round',
  );
  expect(problem(await stub.join('d1', undefined, { headMsPerSample: { block0: 2 }, ...link }))).toBe(
    'no-open-round',
  );
  value(await stub.start());
  return { stub, initial };
}

describe('a federation at two cuts', () => {
  it('gives each device its cut and publishes the by-name weighted mean of both sides', async () => {
    const { stub } = await mixedFederation('mixed-cuts');
    const shallow = value(await stub.join('d0'));
    const deep = value(await stub.join('d1'));
    expect(shallow.ticket).toMatchObject({ modelId: 'm', cut: 'embed' });
    expect(deep.ticket).toMatchObject({ modelId: 'm-deep', cut: 'block0' });
    // Each session starts from the tail of its own build: the deep one without the tensor its device trains.
    expect([...decode(shallow.tail).keys()].sort()).toEqual(['tail.fc.lora_A', 'tail.fc.lora_B']);
    expect([...decode(deep.tail).keys()]).toEqual(['tail.fc.lora_B']);
    // And each device gets its own build's head.
    expect([...decode(value(await stub.adapters(0, 'head', undefined, 'm-deep'))).keys()].sort()).toEqual(
      [...HEAD, 'tail.fc.lora_A'].sort(),
    );

    const a = { vals: values(21), n: 12 };
    const b = { vals: values(22), n: 30 };
    value(await stub.submit(update('d0', 0, a.vals, a.n)));
    // The deep device's update is split as its build splits it: tail.fc.lora_A comes from its head.
    value(await stub.submit(update('d1', 0, b.vals, b.n, { trainables: DEEP_SPLIT })));

    const published = decode(value(await stub.adapters(1, 'all')));
    const byHand = weightedMean([a, b]);
    expect([...published.keys()].sort()).toEqual([...byHand.keys()].sort());
    for (const [name, mean] of byHand)
      expect(maxAbsDiff(published.get(name)!, mean), name).toBeLessThan(1e-6);
  });

  it('refuses an update split as the other cut splits it', async () => {
    const { stub } = await mixedFederation('mixed-cuts-wrong-split');
    const refused = await stub.submit(update('d1', 0, values(23), 5));
    expect(problem(refused)).toBe('invalid-update');
    expect(problem(await stub.adapters(0, 'head', undefined, 'not-a-cut'))).toBe('bad-request');
  });
});
