// The privacy accountant of client-level DP-FedAvg: Rényi DP of the sampled
// Gaussian mechanism (Mironov, Talwar and Zhang 2019), composed over rounds
// and converted to (ε, δ).
//
// One round samples each enrolled device with probability q (the round's
// selection rate) and releases the sum of their clipped updates plus Gaussian
// noise of standard deviation z·C, so its RDP at integer order α is
//
//   ε_α = log A_α / (α − 1),  A_α = Σ_{k=0..α} C(α,k) (1−q)^(α−k) q^k exp((k² − k) / (2z²)),
//
// exact for integer α. Rounds compose by adding ε_α; the (ε, δ) guarantee is
// the smallest over the orders of the conversion of Balle et al. 2020
// ("Hypothesis testing interpretations and Rényi DP", Theorem 21):
//
//   ε = ε_α + log((α − 1)/α) − (log δ + log α)/(α − 1).
//
// The analysis assumes Poisson sampling; the coordinator draws a fixed number
// of devices a round, for which this is the customary approximation (the
// README says so). Only integer orders are used: a little looser than adding
// fractional ones, never optimistic.

/** The orders the accountant tracks. */
export const RDP_ORDERS: readonly number[] = [
  2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512,
];

/** log(exp(a) + exp(b)) without overflow. */
function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** log C(n, k) through a running sum of logs (n is at most a few hundred). */
function logBinomials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) out[k] = out[k - 1] + Math.log(n - k + 1) - Math.log(k);
  return out;
}

/** One round's RDP at integer order `alpha` for sampling rate `q` and noise multiplier `z`. */
export function sampledGaussianRdp(q: number, z: number, alpha: number): number {
  if (!Number.isInteger(alpha) || alpha < 2) throw new RangeError('orders are integers ≥ 2');
  if (!(q >= 0 && q <= 1)) throw new RangeError('the sampling rate is in [0, 1]');
  if (!(z > 0)) throw new RangeError('the noise multiplier is positive');
  if (q === 0) return 0;
  if (q === 1) return alpha / (2 * z * z);
  const logC = logBinomials(alpha);
  const logQ = Math.log(q);
  const log1Q = Math.log1p(-q);
  let logA = Number.NEGATIVE_INFINITY;
  for (let k = 0; k <= alpha; k++) {
    logA = logAdd(logA, logC[k] + (alpha - k) * log1Q + k * logQ + (k * k - k) / (2 * z * z));
  }
  return logA / (alpha - 1);
}

/** The (ε, δ) of an RDP curve: the best order's conversion. */
export function epsilonFromRdp(
  rdp: readonly number[],
  orders: readonly number[],
  delta: number,
): {
  epsilon: number;
  order: number;
} {
  if (!(delta > 0 && delta < 1)) throw new RangeError('δ is in (0, 1)');
  let best = { epsilon: Number.POSITIVE_INFINITY, order: orders[0] };
  orders.forEach((alpha, i) => {
    const eps = rdp[i] + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    if (eps < best.epsilon) best = { epsilon: Math.max(0, eps), order: alpha };
  });
  return best;
}

/** What the accountant needs about each round that ran: its sampling rate and noise multiplier. */
export interface PrivateRound {
  samplingRate: number;
  noiseMultiplier: number;
}

/** ε at `delta` after the given rounds (rounds may differ in rate, e.g. as devices enrol). */
export function epsilonSpent(rounds: readonly PrivateRound[], delta: number): number {
  if (rounds.length === 0) return 0;
  // Rounds alike in rate and noise compose as one term times their count.
  const alike = new Map<string, { round: PrivateRound; count: number }>();
  for (const r of rounds) {
    const key = `${r.samplingRate}/${r.noiseMultiplier}`;
    const seen = alike.get(key);
    if (seen) seen.count++;
    else alike.set(key, { round: r, count: 1 });
  }
  const rdp = RDP_ORDERS.map((alpha) =>
    [...alike.values()].reduce(
      (sum, { round, count }) =>
        sum + count * sampledGaussianRdp(round.samplingRate, round.noiseMultiplier, alpha),
      0,
    ),
  );
  return epsilonFromRdp(rdp, RDP_ORDERS, delta).epsilon;
}
