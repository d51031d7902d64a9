// SGD steps worked out by hand (torch.optim.SGD semantics), p0 = [1, -2],
// lr = 0.1, gradients g1 = [0.5, -1], g2 = [0.2, 0.4], g3 = [-0.1, 0].
import { describe, expect, it } from 'vitest';
import { sgd } from '../../../common/optim/index.js';
import { expectClose } from './helpers.js';

const G = [
  [0.5, -1],
  [0.2, 0.4],
  [-0.1, 0],
];

function run(options: Parameters<typeof sgd>[0], steps: number): Float32Array[] {
  const opt = sgd(options);
  const w = Float32Array.from([1, -2]);
  const out: Float32Array[] = [];
  for (let t = 0; t < steps; t++) {
    opt.step({ w }, { w: Float32Array.from(G[t]) });
    out.push(w.slice());
  }
  expect(opt.stepCount).toBe(steps);
  return out;
}

describe('sgd', () => {
  it('plain: p ← p − lr·g', () => {
    const [p1, p2] = run({ lr: 0.1 }, 2);
    // p1 = [1 − 0.1·0.5, −2 − 0.1·(−1)] = [0.95, −1.9]
    expectClose(p1, [0.95, -1.9]);
    // p2 = [0.95 − 0.1·0.2, −1.9 − 0.1·0.4] = [0.93, −1.94]
    expectClose(p2, [0.93, -1.94]);
  });

  it('momentum 0.9: b1 = g1, then b ← 0.9·b + g', () => {
    const [p1, p2, p3] = run({ lr: 0.1, momentum: 0.9 }, 3);
    // b1 = [0.5, −1];  p1 = [1 − 0.05, −2 + 0.1] = [0.95, −1.9]
    expectClose(p1, [0.95, -1.9]);
    // b2 = 0.9·[0.5, −1] + [0.2, 0.4] = [0.65, −0.5];  p2 = [0.95 − 0.065, −1.9 + 0.05] = [0.885, −1.85]
    expectClose(p2, [0.885, -1.85]);
    // b3 = 0.9·[0.65, −0.5] + [−0.1, 0] = [0.485, −0.45];  p3 = [0.885 − 0.0485, −1.85 + 0.045] = [0.8365, −1.805]
    expectClose(p3, [0.8365, -1.805]);
  });

  it('nesterov: step along g + 0.9·b', () => {
    const [p1, p2] = run({ lr: 0.1, momentum: 0.9, nesterov: true }, 2);
    // b1 = [0.5, −1];  d1 = g1 + 0.9·b1 = [0.95, −1.9];  p1 = [1 − 0.095, −2 + 0.19] = [0.905, −1.81]
    expectClose(p1, [0.905, -1.81]);
    // b2 = [0.65, −0.5];  d2 = [0.2 + 0.585, 0.4 − 0.45] = [0.785, −0.05];  p2 = [0.905 − 0.0785, −1.81 + 0.005]
    expectClose(p2, [0.8265, -1.805]);
  });

  it('weight decay 0.1 is coupled: g ← g + 0.1·p before momentum', () => {
    const [p1, p2] = run({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 }, 2);
    // d1 = [0.5 + 0.1, −1 − 0.2] = [0.6, −1.2] = b1;  p1 = [1 − 0.06, −2 + 0.12] = [0.94, −1.88]
    expectClose(p1, [0.94, -1.88]);
    // d2 = [0.2 + 0.094, 0.4 − 0.188] = [0.294, 0.212];  b2 = 0.9·[0.6, −1.2] + d2 = [0.834, −0.868]
    // p2 = [0.94 − 0.0834, −1.88 + 0.0868] = [0.8566, −1.7932]
    expectClose(p2, [0.8566, -1.7932]);
  });

  it('weight decay without momentum keeps no buffers', () => {
    const opt = sgd({ lr: 0.1, weightDecay: 0.1 });
    const w = Float32Array.from([1, -2]);
    opt.step({ w }, { w: Float32Array.from(G[0]) });
    // p1 = p − 0.1·(g + 0.1·p) = [1 − 0.1·0.6, −2 − 0.1·(−1.2)] = [0.94, −1.88]
    expectClose(w, [0.94, -1.88]);
    expect(opt.state().params.w).toEqual({ size: 2, buffers: {} });
  });

  it('keeps one momentum buffer per parameter, and a schedule may change lr between steps', () => {
    const opt = sgd({ lr: 0.1, momentum: 0.9 });
    const a = Float32Array.from([1]);
    const b = Float32Array.from([2, 3]);
    opt.step({ a, b }, { a: Float32Array.from([1]), b: Float32Array.from([1, -1]) });
    opt.lr = 0.01;
    opt.step({ a, b }, { a: Float32Array.from([1]), b: Float32Array.from([1, -1]) });
    // a: b1 = 1, p1 = 0.9; b2 = 0.9 + 1 = 1.9, p2 = 0.9 − 0.01·1.9 = 0.881
    expectClose(a, [0.881]);
    // b: p2 = [2 − 0.1 − 0.019, 3 + 0.1 + 0.019]
    expectClose(b, [1.881, 3.119]);
    expectClose(opt.state().params.b.buffers.momentum_buffer, [1.9, -1.9]);
    expect(opt.hyper).toEqual({ lr: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false });
  });
});
