// Hyperparameters of the two optimizers, their defaults (PyTorch's), and the
// range checks shared by the constructors and the state decoders.
import { OptimizerError } from './errors.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  /** Coupled (L2) decay: added to the gradient as wd·p, as torch.optim.SGD does. */
  weightDecay?: number;
  nesterov?: boolean;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled decay: p ← p·(1 − lr·wd) before the Adam update, as torch.optim.AdamW does. */
  weightDecay?: number;
}

export type SgdHyper = Required<SgdOptions>;
export type AdamWHyper = Required<AdamWOptions>;

function check(ok: boolean, message: string): void {
  if (!ok) throw new OptimizerError('invalid_options', message);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function checkLr(lr: unknown): number {
  check(isNum(lr) && lr >= 0, `lr must be a finite number >= 0, got ${String(lr)}`);
  return lr as number;
}

export function resolveSgd(o: SgdOptions): SgdHyper {
  const h: SgdHyper = {
    lr: checkLr(o.lr),
    momentum: o.momentum ?? 0,
    weightDecay: o.weightDecay ?? 0,
    nesterov: o.nesterov ?? false,
  };
  check(isNum(h.momentum) && h.momentum >= 0, `momentum must be a finite number >= 0, got ${h.momentum}`);
  check(
    isNum(h.weightDecay) && h.weightDecay >= 0,
    `weightDecay must be a finite number >= 0, got ${h.weightDecay}`,
  );
  check(typeof h.nesterov === 'boolean', 'nesterov must be a boolean');
  check(!h.nesterov || h.momentum > 0, 'nesterov momentum requires momentum > 0');
  return h;
}

export function resolveAdamW(o: AdamWOptions): AdamWHyper {
  const h: AdamWHyper = {
    lr: checkLr(o.lr),
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0.01,
  };
  for (const k of ['beta1', 'beta2'] as const) {
    check(isNum(h[k]) && h[k] >= 0 && h[k] < 1, `${k} must be in [0, 1), got ${h[k]}`);
  }
  // eps = 0 (allowed by PyTorch) would turn a zero second moment into 0/0 = NaN in the params.
  check(isNum(h.eps) && h.eps > 0, `eps must be a finite number > 0, got ${h.eps}`);
  check(
    isNum(h.weightDecay) && h.weightDecay >= 0,
    `weightDecay must be a finite number >= 0, got ${h.weightDecay}`,
  );
  return h;
}
