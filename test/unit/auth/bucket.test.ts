// The API keys' token bucket: a burst at once, then the rate, and how long to wait.
import { describe, expect, it } from 'vitest';
import { type Bucket, fullBucket, type Rate, take } from '../../../durable-objects/api-keys/bucket.js';

function drain(bucket: Bucket, rate: Rate, now: number, n: number): { bucket: Bucket; allowed: number } {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const t = take(bucket, rate, now);
    bucket = t.bucket;
    if (t.allowed) allowed++;
  }
  return { bucket, allowed };
}

describe('token bucket', () => {
  it('allows the burst at once, then refuses with the wait until the next token', () => {
    const rate = { perMinute: 6, burst: 3 };
    const { bucket, allowed } = drain(fullBucket(rate, 0), rate, 0, 5);
    expect(allowed).toBe(3);
    const refused = take(bucket, rate, 0);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 10 });
    expect(take(bucket, rate, 4_000)).toMatchObject({ allowed: false, retryAfterSeconds: 6 });
    expect(take(bucket, rate, 10_000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('refills at the rate up to the burst, never beyond', () => {
    const rate = { perMinute: 60, burst: 5 };
    let { bucket } = drain(fullBucket(rate, 0), rate, 0, 5);
    ({ bucket } = drain(bucket, rate, 2_000, 0));
    expect(drain(bucket, rate, 2_000, 10).allowed).toBe(2);
    expect(drain(bucket, rate, 3_600_000, 10).allowed).toBe(5);
  });

  it('over a long run admits the rate and no more', () => {
    const rate = { perMinute: 120, burst: 10 };
    let bucket = fullBucket(rate, 0);
    let allowed = 0;
    // 10 requests a second for 5 minutes against 2 a second.
    for (let ms = 0; ms < 300_000; ms += 100) {
      const t = take(bucket, rate, ms);
      bucket = t.bucket;
      if (t.allowed) allowed++;
    }
    expect(allowed).toBeGreaterThanOrEqual(600);
    expect(allowed).toBeLessThanOrEqual(610);
  });

  it('refills nothing when the clock steps back', () => {
    const rate = { perMinute: 60, burst: 1 };
    const first = take(fullBucket(rate, 10_000), rate, 10_000);
    expect(take(first.bucket, rate, 5_000).allowed).toBe(false);
    expect(take(first.bucket, rate, 11_000).allowed).toBe(true);
  });
});
