// When to try again: exponential backoff with full jitter (spreads retries of
// many devices hit by the same outage), and the server's Retry-After when it
// gives one.

export interface RetryPolicy {
  /** Retries after the first attempt, for transient failures only. */
  retries: number;
  /** The first retry waits up to this long; each later one doubles it. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is returned instead. */
  maxRetryAfterMs: number;
  /** Uniform [0, 1) source for the jitter. */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 3,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
  random: Math.random,
};

/** Statuses that say "try again later"; everything else 4xx/5xx is final. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Delay before retry number `retry` (0 for the first retry). */
export function backoffDelay(retry: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(policy.random() * ceiling);
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; undefined if absent or invalid. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names the day; this keeps Date.parse from reading '-1' as a year.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
