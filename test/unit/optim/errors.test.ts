// Bad inputs fail with a stable code and leave params and state untouched.
import { describe, expect, it } from 'vitest';
import {
  adamw,
  decodeOptimizerState,
  decodeOptimizerStateChunks,
  encodeOptimizerState,
  encodeOptimizerStateChunks,
  fromState,
  type Optimizer,
  OptimizerError,
  type OptimizerErrorCode,
  type OptimizerState,
  optimizerStateFromJson,
  optimizerStateToJson,
  sgd,
} from '../../../common/optim/index.js';

function code(fn: () => unknown): OptimizerErrorCode | string {
  try {
    fn();
  } catch (e) {
    return e instanceof OptimizerError ? e.code : `not an OptimizerError: ${(e as Error).message}`;
  }
  return 'did not throw';
}

const f = (...v: number[]) => Float32Array.from(v);

function stepped(opt: Optimizer = adamw({ lr: 0.1 })): { opt: Optimizer; w: Float32Array; b: Float32Array } {
  const w = f(1, 2, 3);
  const b = f(0.5);
  opt.step({ w, b }, { w: f(0.1, 0.2, 0.3), b: f(1) });
  return { opt, w, b };
}

describe('step errors', () => {
  it('names: missing or extra gradients, with the names in the message', () => {
    const opt = sgd({ lr: 0.1 });
    expect(() => opt.step({ w: f(1), b: f(1) }, { w: f(1) })).toThrow(
      'gradients do not match parameters: missing "b"',
    );
    expect(() => opt.step({ w: f(1) }, { w: f(1), x: f(1) })).toThrow('unexpected "x"');
    expect(code(() => opt.step({}, {}))).toBe('name_mismatch');
  });

  it('shapes: a gradient of the wrong length', () => {
    expect(() => sgd({ lr: 0.1 }).step({ w: f(1, 2) }, { w: f(1) })).toThrow(
      expect.objectContaining({
        code: 'shape_mismatch',
        message: 'gradient w has 1 elements, the parameter 2',
      }),
    );
  });

  it('after the first step the parameter set and sizes are fixed', () => {
    const { opt, w } = stepped();
    expect(code(() => opt.step({ w }, { w: f(0, 0, 0) }))).toBe('name_mismatch');
    expect(code(() => opt.step({ w: f(1, 2), b: f(1) }, { w: f(0, 0), b: f(0) }))).toBe('shape_mismatch');
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'a %s gradient updates nothing, in params or state',
    (bad) => {
      for (const make of [() => adamw({ lr: 0.1 }), () => sgd({ lr: 0.1, momentum: 0.9 })]) {
        const { opt, w, b } = stepped(make());
        const [w0, b0, s0] = [w.slice(), b.slice(), opt.state()];
        // The bad value sits in the second parameter, after one that would be updated first.
        expect(() => opt.step({ w, b }, { w: f(1, 1, 1), b: f(bad) })).toThrow(
          expect.objectContaining({
            code: 'non_finite_gradient',
            message: `gradient b[0] is ${bad}; no parameter was updated`,
          }),
        );
        expect(w).toEqual(w0);
        expect(b).toEqual(b0);
        expect(opt.state()).toEqual(s0);
        expect(opt.stepCount).toBe(1);
      }
    },
  );

  it('non-Float32Array tensors are programming errors', () => {
    expect(() => sgd({ lr: 1 }).step({ w: [1] as unknown as Float32Array }, { w: f(1) })).toThrow(TypeError);
  });
});

describe('option errors', () => {
  it.each([
    ['negative lr', () => sgd({ lr: -1 })],
    ['NaN lr', () => adamw({ lr: Number.NaN })],
    ['negative momentum', () => sgd({ lr: 1, momentum: -0.1 })],
    ['nesterov without momentum', () => sgd({ lr: 1, nesterov: true })],
    ['beta1 = 1', () => adamw({ lr: 1, beta1: 1 })],
    ['negative beta2', () => adamw({ lr: 1, beta2: -0.5 })],
    ['eps = 0', () => adamw({ lr: 1, eps: 0 })],
    ['negative weight decay', () => adamw({ lr: 1, weightDecay: -1 })],
  ])('%s', (_, fn) => {
    expect(code(fn)).toBe('invalid_options');
  });

  it('setting lr validates it', () => {
    const opt = sgd({ lr: 1 });
    expect(code(() => (opt.lr = Number.POSITIVE_INFINITY))).toBe('invalid_options');
    expect(opt.lr).toBe(1);
  });
});

describe('state errors', () => {
  const good = (): OptimizerState => stepped().opt.state();

  it('load refuses another kind', () => {
    expect(() => sgd({ lr: 1 }).load(good())).toThrow(
      'cannot load a state of kind adamw into the sgd optimizer',
    );
  });

  it.each<[string, (s: OptimizerState) => unknown]>([
    ['unknown version', (s) => ({ ...s, version: 2 })],
    ['unknown kind', (s) => ({ ...s, kind: 'lion' })],
    ['negative step', (s) => ({ ...s, step: -1 })],
    ['step 0 with buffers', (s) => ({ ...s, step: 0 })],
    ['bad hyperparameters', (s) => ({ ...s, hyper: { ...s.hyper, lr: -1 } })],
    [
      'a missing buffer',
      (s) => ({ ...s, params: { ...s.params, b: { size: 1, buffers: { exp_avg: f(0) } } } }),
    ],
    [
      'a buffer of the wrong size',
      (s) => ({
        ...s,
        params: { ...s.params, b: { size: 1, buffers: { exp_avg: f(0), exp_avg_sq: f(0, 0) } } },
      }),
    ],
    [
      'a non-finite buffer',
      (s) => ({
        ...s,
        params: { ...s.params, b: { size: 1, buffers: { exp_avg: f(Number.NaN), exp_avg_sq: f(0) } } },
      }),
    ],
  ])('rejects %s', (_, mutate) => {
    expect(code(() => fromState(mutate(good()) as OptimizerState))).toBe('invalid_state');
  });

  it('bytes: bad magic, truncation, any flipped byte, trailing garbage', () => {
    const bytes = encodeOptimizerState(good());
    expect(() => decodeOptimizerState(new Uint8Array(8))).toThrow('too short');
    const magic = bytes.slice();
    magic[0] = 0;
    expect(() => decodeOptimizerState(magic)).toThrow('bad magic');
    expect(code(() => decodeOptimizerState(bytes.subarray(0, bytes.length - 1)))).toBe('invalid_state');
    for (let i = 5; i < bytes.length; i += 7) {
      const flipped = bytes.slice();
      flipped[i] ^= 0x10;
      expect(
        code(() => decodeOptimizerState(flipped)),
        `byte ${i}`,
      ).toBe('invalid_state');
    }
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(code(() => decodeOptimizerState(longer))).toBe('invalid_state');
  });

  it('chunks: missing, duplicated, or from two different saves', () => {
    const { opt, w, b } = stepped();
    const one = encodeOptimizerStateChunks(opt.state(), 64);
    opt.step({ w, b }, { w: f(1, 1, 1), b: f(1) });
    const two = encodeOptimizerStateChunks(opt.state(), 64);
    expect(one.length).toBe(two.length);
    expect(() => decodeOptimizerStateChunks(one.slice(1))).toThrow('chunk says');
    expect(() => decodeOptimizerStateChunks([one[0], ...one.slice(0, -1)])).toThrow(
      'out of range or duplicated',
    );
    expect(() => decodeOptimizerStateChunks([two[0], ...one.slice(1)])).toThrow('different saves');
    expect(() => decodeOptimizerStateChunks([])).toThrow('no chunks');
    expect(() => encodeOptimizerStateChunks(opt.state(), 20)).toThrow(RangeError);
  });

  it('JSON: bad base64 or a buffer of the wrong length', () => {
    const json = optimizerStateToJson(good());
    const badChar = structuredClone(json);
    badChar.params.w.buffers.exp_avg = '!!!!';
    expect(() => optimizerStateFromJson(badChar)).toThrow('invalid base64 character');
    const short = structuredClone(json);
    short.params.w.buffers.exp_avg = 'AAAAAA==';
    expect(code(() => optimizerStateFromJson(short))).toBe('invalid_state');
    expect(code(() => optimizerStateFromJson(null))).toBe('invalid_state');
  });
});
