// Byzantine devices for the baseline: a fixed, seeded set of devices that,
// whenever they are selected, turn their honest training into an attack on
// the round's aggregate. Each attack is something a compromised device can do
// with only what the protocol gives it (the round's global version, its own
// data, the federation's public update bound), so a strategy that survives
// one here survives it from a real device.
import type { LocalDataset } from '../../../client-sdk/trainer/types.js';
import { mulberry32, shuffle } from '../../../common/random.js';
import { roundSeed } from '../../../strategy/select.js';
import type { Params } from './model.js';

export const ATTACKS = ['none', 'sign-flip', 'large-norm', 'inflated-count', 'label-flip'] as const;
export type Attack = (typeof ATTACKS)[number];

/** How far a sign-flipping device pushes against its honest direction. */
export const SIGN_FLIP_SCALE = 4;
/** The factor an inflated-count device multiplies its true sample count by. */
export const COUNT_INFLATION = 1_000_000;
/**
 * Keeps a large-norm update strictly inside the bound: at the scale that puts
 * one value exactly on it, float32 rounding could land a hair outside.
 */
const BOUND_MARGIN = 1 - 1e-6;

// Salts the run seed so the attackers are not tied to any round's selection draw.
const MALICIOUS_SALT = 0x0b12a7e5;

/** ⌊fraction × clients⌋ device indices, drawn from the run's seed and fixed for the whole run, ascending. */
export function maliciousDevices(clients: number, fraction: number, seed: number): number[] {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  const count = Math.floor(fraction * clients + 1e-9);
  const indices = Array.from({ length: clients }, (_, i) => i);
  shuffle(indices, mulberry32(roundSeed((seed ^ MALICIOUS_SALT) >>> 0, 0)));
  return indices.slice(0, count).sort((a, b) => a - b);
}

/** The data a label-flipping device trains on: every label y becomes (classes − 1) − y, pixels shared. */
export function flipLabels(data: LocalDataset, classes: number): LocalDataset {
  const labels = Int32Array.from(data.labels, (y) => classes - 1 - y);
  return { pixels: data.pixels, labels, size: data.size };
}

/** global + scale·(update − global), per value, rounded once to float32. */
function alongDelta(global: Params, update: Params, scale: number): Params {
  const out: Params = {};
  for (const [name, u] of Object.entries(update)) {
    const g = global[name].data;
    const data = new Float32Array(u.data.length);
    for (let i = 0; i < data.length; i++) data[i] = g[i] + scale * (u.data[i] - g[i]);
    out[name] = { dims: u.dims, data };
  }
  return out;
}

/** The scaled sign flip: global − s·(honest delta), pulling the aggregate back from where training goes. */
export function signFlip(global: Params, honest: Params, scale = SIGN_FLIP_SCALE): Params {
  return alongDelta(global, honest, -scale);
}

/**
 * The largest s ≥ 1 for which every value of global + s·delta stays within
 * ±maxAbs: an attacker who knows the federation's bound amplifies its honest
 * delta right up to it, so the magnitude check alone cannot refuse it. 1 when
 * the delta is zero or the global leaves no room (nothing is gained by
 * shrinking).
 */
export function largeNormScale(global: Params, honest: Params, maxAbs: number): number {
  let scale = Number.POSITIVE_INFINITY;
  for (const [name, u] of Object.entries(honest)) {
    const g = global[name].data;
    for (let i = 0; i < g.length; i++) {
      const d = u.data[i] - g[i];
      if (d > 0) scale = Math.min(scale, (maxAbs - g[i]) / d);
      else if (d < 0) scale = Math.min(scale, (maxAbs + g[i]) / -d);
    }
  }
  return Number.isFinite(scale) && scale > 1 ? scale * BOUND_MARGIN : 1;
}

/** global + s·(honest delta) with s = largeNormScale: as large a push as the bound lets through. */
export function largeNorm(global: Params, honest: Params, maxAbs: number): { params: Params; scale: number } {
  const scale = largeNormScale(global, honest, maxAbs);
  return { params: alongDelta(global, honest, scale), scale };
}

export interface Submission {
  params: Params;
  /** The sampleCount the update's metadata claims. */
  claimed: number;
  /** For large-norm, how far the honest delta was scaled. */
  scale?: number;
}

/**
 * What a device sends after training: its honest update and count, or, for a
 * malicious device, the attack's. Label flipping happens before training
 * (flipLabels), so here it sends what it trained honestly.
 */
export function submission(
  attack: Attack,
  malicious: boolean,
  global: Params,
  trained: Params,
  processed: number,
  maxAbs: number,
): Submission {
  if (!malicious) return { params: trained, claimed: processed };
  switch (attack) {
    case 'none':
    case 'label-flip':
      return { params: trained, claimed: processed };
    case 'sign-flip':
      return { params: signFlip(global, trained), claimed: processed, scale: -SIGN_FLIP_SCALE };
    case 'large-norm': {
      const { params, scale } = largeNorm(global, trained, maxAbs);
      return { params, claimed: processed, scale };
    }
    case 'inflated-count':
      return { params: trained, claimed: processed * COUNT_INFLATION };
  }
}
