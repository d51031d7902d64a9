// Saving mid-training and resuming must continue exactly like a run that was
// never interrupted, whichever serialized form carried the state.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adamw,
  decodeOptimizerState,
  decodeOptimizerStateChunks,
  encodeOptimizerState,
  encodeOptimizerStateChunks,
  fromState,
  type Optimizer,
  type OptimizerState,
  optimizerStateFromJson,
  optimizerStateToJson,
  sgd,
} from '../../../common/optim/index.js';
import { cloneParams, gradStream, initialParams } from './helpers.js';

const SIZES = { 'blocks.0.attn.q.weight.lora_A': 48, 'blocks.0.attn.q.weight.lora_B': 40, 'head.bias': 10 };

type Carrier = (s: OptimizerState) => OptimizerState;
const carriers: Record<string, Carrier> = {
  'in memory': (s) => s,
  bytes: (s) => decodeOptimizerState(encodeOptimizerState(s)),
  'chunks of 256 bytes, shuffled': (s) =>
    decodeOptimizerStateChunks(encodeOptimizerStateChunks(s, 256).reverse()),
  'JSON text': (s) => optimizerStateFromJson(JSON.parse(JSON.stringify(optimizerStateToJson(s)))),
};

const makers: Record<string, () => Optimizer> = {
  'sgd momentum nesterov wd': () => sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
  'sgd plain': () => sgd({ lr: 0.05 }),
  adamw: () => adamw({ lr: 1e-2, weightDecay: 0.05 }),
};

describe.each(Object.keys(makers))('%s state', (kind) => {
  it.each(Object.keys(carriers))('resumed through %s continues bit-identically', (carrier) => {
    const total = 7;
    const cut = 3;
    const straight = makers[kind]();
    const pStraight = initialParams(SIZES);
    const gradsA = gradStream(SIZES, 5);
    for (let t = 0; t < total; t++) straight.step(pStraight, gradsA());

    const first = makers[kind]();
    const p = initialParams(SIZES);
    const gradsB = gradStream(SIZES, 5);
    for (let t = 0; t < cut; t++) first.step(p, gradsB());
    const resumed = fromState(carriers[carrier](first.state()));
    const pResumed = cloneParams(p);
    expect(resumed.stepCount).toBe(cut);
    expect(resumed.hyper).toEqual(first.hyper);
    for (let t = cut; t < total; t++) resumed.step(pResumed, gradsB());

    expect(pResumed).toEqual(pStraight);
    expect(resumed.state()).toEqual(straight.state());
  });
});

describe('optimizer state snapshots', () => {
  it('state() is a deep copy: later steps do not change it', () => {
    const opt = adamw({ lr: 0.1 });
    const w = Float32Array.from([1, 2]);
    opt.step({ w }, { w: Float32Array.from([1, 1]) });
    const snap = opt.state();
    const before = snap.params.w.buffers.exp_avg.slice();
    opt.step({ w }, { w: Float32Array.from([5, 5]) });
    expect(snap.params.w.buffers.exp_avg).toEqual(before);
    expect(snap.step).toBe(1);
  });

  it('load() copies the state it is given and adopts its hyperparameters', () => {
    const a = sgd({ lr: 0.1, momentum: 0.5 });
    const w = Float32Array.from([1]);
    a.step({ w }, { w: Float32Array.from([1]) });
    const s = a.state();
    const b = sgd({ lr: 1 });
    b.load(s);
    expect(b.hyper).toEqual({ lr: 0.1, momentum: 0.5, weightDecay: 0, nesterov: false });
    b.step({ w }, { w: Float32Array.from([1]) });
    expect(Array.from(s.params.w.buffers.momentum_buffer)).toEqual([1]);
  });

  it('a fresh optimizer has an empty state that round-trips', () => {
    const s = adamw({ lr: 0.1 }).state();
    expect(s).toEqual({
      version: 1,
      kind: 'adamw',
      step: 0,
      hyper: { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
      params: {},
    });
    expect(decodeOptimizerState(encodeOptimizerState(s))).toEqual(s);
  });

  it('chunks respect the size bound, and the default fits a Durable Object value', () => {
    const opt = adamw({ lr: 0.1 });
    const big = { w: new Float32Array(400_000) }; // 2 buffers × 1.6 MB
    opt.step(big, { w: new Float32Array(400_000).fill(0.5) });
    const chunks = encodeOptimizerStateChunks(opt.state());
    expect(chunks.length).toBe(2);
    expect(chunks.every((c) => c.length <= 2_000_000)).toBe(true);
    expect(decodeOptimizerStateChunks(chunks)).toEqual(opt.state());
    const small = encodeOptimizerStateChunks(opt.state(), 100_000);
    expect(small.every((c) => c.length <= 100_000)).toBe(true);
  });

  it('parameter names that are Object.prototype keys survive every form', () => {
    const names = ['__proto__', 'constructor', 'toString'];
    const shape = Object.fromEntries(names.map((n) => [n, 2]));
    const opt = sgd({ lr: 0.1, momentum: 0.9 });
    const params = initialParams(shape);
    opt.step(params, gradStream(shape, 3)());
    const s = opt.state();
    expect(Object.keys(s.params)).toEqual(names);
    for (const carry of Object.values(carriers)) {
      const back = carry(s);
      expect(Object.keys(back.params)).toEqual(names);
      expect(fromState(back).state()).toEqual(s);
    }
  });

  it('bytes round-trip any parameter names and sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 5, maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (names, sizes, steps, useAdam) => {
          const shape = Object.fromEntries(names.map((n, i) => [n, sizes[i]]));
          const opt = useAdam ? adamw({ lr: 0.01 }) : sgd({ lr: 0.01, momentum: 0.9 });
          const params = initialParams(shape);
          const grads = gradStream(shape, 1);
          for (let t = 0; t < steps; t++) opt.step(params, grads());
          const s = opt.state();
          expect(decodeOptimizerState(encodeOptimizerState(s))).toEqual(s);
          expect(optimizerStateFromJson(JSON.parse(JSON.stringify(optimizerStateToJson(s))))).toEqual(s);
        },
      ),
      { numRuns: 60 },
    );
  });
});
