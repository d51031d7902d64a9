// A token bucket: `burst` requests at once, refilled continuously at
// `perMinute`. Pure, so the arithmetic is tested apart from storage.

export interface Bucket {
  /** Requests that may be made now; fractional while refilling. */
  tokens: number;
  /** Unix milliseconds of the last update. */
  at: number;
}

export interface Rate {
  perMinute: number;
  burst: number;
}

export type Take =
  | { allowed: true; bucket: Bucket; remaining: number }
  | { allowed: false; bucket: Bucket; retryAfterSeconds: number };

export const fullBucket = (rate: Rate, now: number): Bucket => ({ tokens: rate.burst, at: now });

/** Takes one request's token from the bucket at `now`, or says how long until one is there. */
export function take(bucket: Bucket, rate: Rate, now: number): Take {
  // A clock that steps back refills nothing rather than draining the bucket.
  const elapsed = Math.max(0, now - bucket.at);
  const tokens = Math.min(rate.burst, bucket.tokens + (elapsed * rate.perMinute) / 60_000);
  const at = Math.max(now, bucket.at);
  if (tokens >= 1) {
    return { allowed: true, bucket: { tokens: tokens - 1, at }, remaining: Math.floor(tokens - 1) };
  }
  const waitMs = ((1 - tokens) * 60_000) / rate.perMinute;
  return { allowed: false, bucket: { tokens, at }, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}
