// A Shannon uplink whose transmit power the planner chooses (after SFLAM,
// which picks each device's quantization, transmit power and bandwidth
// share). A measured link rate says nothing about what a faster or slower
// upload costs the battery; a radio model does: a device with time to spare
// can send the same bits at lower power, and its energy falls.
//
// A device given a share b of the cell's bandwidth W (Hz), transmitting at
// p ≤ P_max watts over a channel of gain g, against noise of density N0
// (W/Hz), sends at
//
//     r(b, p) = b·W · log2(1 + p·g / (N0·b·W))                        bit/s
//
// The gain falls with distance as 3GPP's macro-cell path loss (TR 36.814,
// the model SFL papers evaluate with):
//
//     PL(d) = 128.1 + 37.6·log10(d / 1 km) dB,    g = 10^(−PL/10)
//
// that is g = g0·(d/d0)^−3.76 with g0 = 10^−12.81 at d0 = 1 km. Noise is
// thermal, −174 dBm/Hz, unless the cell says otherwise.
//
// Writing k = g/(N0·W) (the SNR one watt gives over the whole band), a
// device that must move its upload at rate R (its bits over its slack in
// the round) needs at share b the power
//
//     p(b) = (b/k)·(2^(R/(b·W)) − 1)
//
// and spends p(b)·slack joules. For a fixed share that energy falls as the
// time grows, so the least-energy power is the least that finishes in the
// slack. p(b) is convex and decreasing in b, so at a price μ per unit share
// (the planner's multiplier) minimizing λ·slack·p(b) + μ·b is one convex
// variable; its stationary point has a closed form through Lambert's W:
//
//     with y = ln2·R/(b·W):   (y − 1)·e^(y−1) = (μ·k/(λ·slack) − 1)/e
//
// clamped to the shares where p(b) ≤ P_max.
//
// Only the radiated power is counted. A circuit power drawn while sending
// would make finishing early pay off (there is then an energy-efficient
// SNR), and power would no longer follow from the share alone.

/** What a device's radio is: its channel to the cell and how loud it may transmit. */
export interface RadioModel {
  /** Linear power gain of the channel to the cell (path loss included), e.g. `pathGain(distance)`. */
  channelGain: number;
  maxPowerW: number;
}

/** The cell a radio device's share is of. */
export interface Cell {
  bandwidthHz: number;
  /** Noise power spectral density at the receiver (W/Hz); thermal by default. */
  noisePsdWPerHz?: number;
}

/** A device's radio as seen from one cell: everything its rate depends on besides share and power. */
export interface RadioLink {
  bandwidthHz: number;
  /** The SNR one watt gives over the whole band: g / (N0·W). */
  snrPerW: number;
  maxPowerW: number;
}

export const dbmToW = (dbm: number): number => 10 ** ((dbm - 30) / 10);

/** Thermal noise at room temperature, −174 dBm/Hz. */
export const THERMAL_NOISE_W_PER_HZ = dbmToW(-174);

/** The 3GPP macro-cell channel gain at `distanceM` metres (TR 36.814: 128.1 + 37.6·log10(d/km) dB). */
export const pathGain = (distanceM: number): number =>
  10 ** (-(128.1 + 37.6 * Math.log10(distanceM / 1000)) / 10);

export function radioLink(radio: RadioModel, cell: Cell): RadioLink {
  const noise = cell.noisePsdWPerHz ?? THERMAL_NOISE_W_PER_HZ;
  return {
    bandwidthHz: cell.bandwidthHz,
    snrPerW: radio.channelGain / (noise * cell.bandwidthHz),
    maxPowerW: radio.maxPowerW,
  };
}

/** r(b, p) = b·W·log2(1 + p·g/(N0·b·W)): bit/s at a share of the band and a transmit power. */
export function shannonRateBps(link: RadioLink, share: number, powerW: number): number {
  if (share <= 0) return 0;
  return ((share * link.bandwidthHz) / Math.LN2) * Math.log1p((powerW * link.snrPerW) / share);
}

/** The least power that carries `rateBps` at a share: (b/k)·(2^(R/(b·W)) − 1). May exceed the device's maximum. */
export function leastPowerW(link: RadioLink, share: number, rateBps: number): number {
  if (rateBps <= 0) return 0;
  if (share <= 0) return Number.POSITIVE_INFINITY;
  return (share / link.snrPerW) * Math.expm1((Math.LN2 * rateBps) / (share * link.bandwidthHz));
}

/**
 * The least share that carries `rateBps` at the device's maximum power, or
 * Infinity when no share does: at any bandwidth the rate stays under
 * P·k·W/ln2, where the SNR has fallen to nothing.
 *
 * With y = ln2·R/(b·W) the condition p(b) = P is expm1(y)/y = P·k·W/(R·ln2):
 * log-convex and increasing in y, so Newton on its logarithm converges from
 * any start after one step, and from this one in a few.
 */
export function leastShare(link: RadioLink, rateBps: number): number {
  if (rateBps <= 0) return 0;
  const target = Math.log((link.maxPowerW * link.snrPerW * link.bandwidthHz) / (rateBps * Math.LN2));
  if (!(target > 0)) return Number.POSITIVE_INFINITY;
  let y = target + Math.log1p(target);
  for (let i = 0; i < 50; i++) {
    // ln(expm1(y)/y) and its slope; near 0 by their series, where the exact forms cancel.
    const f = y < 1e-6 ? y / 2 : Math.log(Math.expm1(y) / y);
    const slope = y < 1e-6 ? 0.5 + y / 12 : 1 / -Math.expm1(-y) - 1 / y;
    const next = y - (f - target) / slope;
    const done = Math.abs(next - y) <= 1e-14 * y;
    y = next > 0 ? next : y / 2;
    if (done) break;
  }
  return (Math.LN2 * rateBps) / (y * link.bandwidthHz);
}

/**
 * The principal branch of Lambert's W (w·e^w = x) for x ≥ −1/e. The planner
 * asks for it per device and choice at every price it tries, so: Winitzki's
 * approximation, then the fourth-order iteration of Fritsch, Shafer and
 * Crowley (one logarithm a step, two steps to full precision); Halley's near
 * the branch point, where that one divides by 1 + w → 0.
 */
export function lambertW0(x: number): number {
  if (x <= -1 / Math.E) return -1;
  if (x === 0 || x === Number.POSITIVE_INFINITY) return x;
  if (x < -0.25) {
    const p = Math.sqrt(2 * (Math.E * x + 1));
    // Its series in p (Corless et al. 1996), to p⁵: Halley's then needs a step or two.
    let w = -1 + p * (1 + p * (-1 / 3 + p * (11 / 72 + p * (-43 / 540 + p * (769 / 17280)))));
    for (let i = 0; i < 30; i++) {
      const e = Math.exp(w);
      const f = w * e - x;
      if (f === 0 || w <= -1) break;
      const next = w - f / (e * (w + 1) - ((w + 2) * f) / (2 * w + 2));
      const done = Math.abs(next - w) <= 1e-13 * (1 + Math.abs(next));
      w = Math.max(-1, next);
      if (done) break;
    }
    return w;
  }
  const a = Math.log1p(x);
  let w = a * (1 - Math.log1p(a) / (2 + a));
  for (let i = 0; i < 10; i++) {
    const z = Math.log(x / w) - w;
    const q = 2 * (1 + w) * (1 + w + (2 / 3) * z);
    const eps = (z / (1 + w)) * ((q - z) / (q - 2 * z));
    w *= 1 + eps;
    if (Math.abs(eps) <= 1e-12) break;
  }
  return w;
}

/** What a radio device takes at a price: its share of the band and the power it then transmits at. */
export interface RadioPick {
  share: number;
  powerW: number;
}

/**
 * The share a radio device takes to move its upload at `rateBps` (its bits
 * over `slackS`) when a unit of share costs `mu` and a joule `lambda` — the
 * minimizer of λ·slack·p(b) + μ·b over the shares in (0, cap] where
 * p(b) ≤ P_max — and p(b), written into `out` (the planner's hot loop
 * allocates nothing). False when even `cap` needs more than P_max. With
 * λ = 0 energy is free and the least feasible share is taken, at P_max.
 */
export function radioPick(
  link: RadioLink,
  rateBps: number,
  slackS: number,
  lambda: number,
  mu: number,
  cap: number,
  out: RadioPick,
): boolean {
  if (rateBps <= 0) {
    out.share = 0;
    out.powerW = 0;
    return true;
  }
  let share = cap;
  if (lambda > 0 && mu > 0) {
    const y = 1 + lambertW0(((mu * link.snrPerW) / (lambda * slackS) - 1) / Math.E);
    share = Math.min(cap, (Math.LN2 * rateBps) / (y * link.bandwidthHz));
  }
  if (lambda > 0) {
    // Feasible where p(b) ≤ P_max, i.e. above the least share: the free optimum stands if it is there.
    const powerW = leastPowerW(link, share, rateBps);
    if (powerW <= link.maxPowerW) {
      out.share = share;
      out.powerW = powerW;
      return true;
    }
  }
  const least = leastShare(link, rateBps);
  if (!(least <= cap * (1 + 1e-12))) return false;
  out.share = Math.min(cap, least);
  out.powerW = link.maxPowerW;
  return true;
}
