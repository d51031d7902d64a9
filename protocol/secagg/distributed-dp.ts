// DP-FedAvg under secure aggregation. The coordinator can no longer clip or
// noise the device-side deltas, so the devices do: each clips its head delta
// and adds its share of the Gaussian noise, so that the sum of any `threshold`
// of them (the fewest a round can unmask) carries the noise DP-FedAvg adds
// centrally. The tail's deltas, which the edge computes, are clipped and
// noised by the coordinator as before.
//
// Sensitivity: a client's whole delta (head and tail) must stay within the
// federation's `clip`. Each side gets clip/√2, so the joint norm does.
// Noise: the sum needs N(0, (z·clip)²) per value; `threshold` devices each
// adding N(0, (z·clip)²/threshold) give at least that.

export interface DeviceDp {
  /** L2 bound of the device's head delta. */
  clip: number;
  /** Standard deviation of the noise the device adds to each value. */
  noiseStd: number;
}

/** Each side's share of the clip bound. */
export const sideClip = (clip: number): number => clip / Math.SQRT2;

export function deviceDp(clip: number, noiseMultiplier: number, threshold: number): DeviceDp {
  return { clip: sideClip(clip), noiseStd: (noiseMultiplier * clip) / Math.sqrt(threshold) };
}

/**
 * The tail's DP-FedAvg parameters under secure aggregation: clipped to its
 * share of the bound, with the noise multiplier raised so the noise still
 * matches the whole bound.
 */
export function tailDp(clip: number, noiseMultiplier: number): { clip: number; noiseMultiplier: number } {
  return { clip: sideClip(clip), noiseMultiplier: noiseMultiplier * Math.SQRT2 };
}

/** The delta clipped to `dp.clip` and noised, in place; answers the delta's norm before clipping. */
export function privatize(delta: Float64Array, dp: DeviceDp, normal: () => number): number {
  let sq = 0;
  for (const v of delta) sq += v * v;
  const norm = Math.sqrt(sq);
  const scale = norm > dp.clip ? dp.clip / norm : 1;
  for (let i = 0; i < delta.length; i++) delta[i] = delta[i] * scale + dp.noiseStd * normal();
  return norm;
}
