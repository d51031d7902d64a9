// AdamW steps worked out by hand (torch.optim.AdamW semantics), p0 = [1, -2],
// lr = 0.1, β1 = 0.9, β2 = 0.999, eps = 1e-8, g1 = [0.5, -1], g2 = [0.2, 0.4],
// g3 = [-0.1, 0].
import { describe, expect, it } from 'vitest';
import { adamw } from '../../../common/optim/index.js';
import { expectClose } from './helpers.js';

const G = [
  [0.5, -1],
  [0.2, 0.4],
  [-0.1, 0],
];

function run(weightDecay: number) {
  const opt = adamw({ lr: 0.1, weightDecay });
  const w = Float32Array.from([1, -2]);
  const out: Float32Array[] = [];
  for (const g of G) {
    opt.step({ w }, { w: Float32Array.from(g) });
    out.push(w.slice());
  }
  return { opt, out };
}

// Step t update u_t = (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps):
//
// t = 1: m = 0.1·g1 = [0.05, −0.1]; v = 0.001·g1² = [0.00025, 0.001]
//        bias corrections 1 − 0.9 = 0.1 and 1 − 0.999 = 0.001 → m̂ = [0.5, −1], v̂ = [0.25, 1]
//        u1 = 0.1·[0.5/0.5, −1/1] = [0.1, −0.1]  (eps shifts it by ~2e-9)
// t = 2: m = 0.9·m + 0.1·g2 = [0.045 + 0.02, −0.09 + 0.04] = [0.065, −0.05]
//        v = 0.999·v + 0.001·g2² = [0.00024975 + 0.00004, 0.000999 + 0.00016] = [0.00028975, 0.001159]
//        1 − 0.9² = 0.19, 1 − 0.999² = 0.001999 → m̂ = [0.3421053, −0.2631579], √v̂ = [0.3807197, 0.7614394]
//        u2 = 0.1·m̂/√v̂ = [0.0898575, −0.0345606]
// t = 3: m = 0.9·m + 0.1·g3 = [0.0585 − 0.01, −0.045] = [0.0485, −0.045]
//        v = 0.999·v + 0.001·g3² = [0.00028946025 + 0.00001, 0.001157841] = [0.00029946025, 0.001157841]
//        1 − 0.9³ = 0.271, 1 − 0.999³ = 0.002997001 → m̂ = [0.1789668, −0.1660517], √v̂ = [0.3161012, 0.6215571]
//        u3 = [0.0566169, −0.0267154]
const U = [
  [0.1, -0.1],
  [0.0898575181, -0.0345605843],
  [0.0566169261, -0.0267154318],
];

describe('adamw', () => {
  it('without weight decay is Adam with bias correction', () => {
    const { opt, out } = run(0);
    // p1 = [1 − 0.1, −2 + 0.1] = [0.9, −1.9]
    expectClose(out[0], [0.9, -1.9]);
    // p2 = [0.9 − 0.0898575, −1.9 + 0.0345606] = [0.8101425, −1.8654394]
    expectClose(out[1], [0.8101424839, -1.8654394167]);
    // p3 = [0.8101425 − 0.0566169, −1.8654394 + 0.0267154] = [0.7535256, −1.8387240]
    expectClose(out[2], [0.7535255578, -1.8387239849]);
    const { buffers } = opt.state().params.w;
    expectClose(buffers.exp_avg, [0.0485, -0.045], 1e-8);
    expectClose(buffers.exp_avg_sq, [0.00029946025, 0.001157841], 1e-10);
  });

  it('decoupled weight decay 0.1 scales p by 1 − lr·wd = 0.99 before each update', () => {
    const { out } = run(0.1);
    // p1 = 0.99·[1, −2] − u1 = [0.99 − 0.1, −1.98 + 0.1] = [0.89, −1.88]
    expectClose(out[0], [0.89, -1.88]);
    // p2 = 0.99·[0.89, −1.88] − u2 = [0.8811 − 0.0898575, −1.8612 + 0.0345606] = [0.7912425, −1.8266394]
    expectClose(out[1], [0.8811 - U[1][0], -1.8612 - U[1][1]]);
    // p3 = 0.99·p2 − u3 = [0.7833300 − 0.0566169, −1.8083730 + 0.0267154] = [0.7267131, −1.7816576]
    expectClose(out[2], [0.7267131329, -1.7816575907]);
  });

  it("defaults are PyTorch's", () => {
    expect(adamw({ lr: 1e-3 }).hyper).toEqual({
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
    });
  });
});
