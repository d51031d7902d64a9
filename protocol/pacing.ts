// Holds a device's steps to the uplink rate its round's plan gave it
// (strategy/plan/, the ticket's `plan.rateBps`): a token bucket of step
// bytes, refilled at the planned rate and as deep as the largest step seen,
// so a device may always send one step at once and then, on average, no
// faster than its share. The share is what lets the other devices of the
// cell finish on time.
//
// One implementation for both sides: the device waits on its own bucket
// before sending, so a well-behaved device is never refused; the session
// keeps the same bucket (with some slack for the steps' transit) and answers
// 429 `paced` to a device that does not.

export class Pacer {
  readonly #bytesPerMs: number;
  readonly #slackMs: number;
  #tokens = 0;
  #depth = 0;
  #at: number | null = null;

  /** `slackMs`: a step this close to its turn is let through (the receiving side's allowance for transit jitter). */
  constructor(rateBps: number, slackMs = 0) {
    if (!(rateBps > 0)) throw new RangeError(`a pacing rate must be positive, not ${rateBps}`);
    this.#bytesPerMs = rateBps / 8 / 1000;
    this.#slackMs = slackMs;
  }

  /**
   * Milliseconds a step of `bytes` must wait at time `now` (ms), or 0 when
   * it may go now; then its bytes are taken from the bucket.
   */
  admit(bytes: number, now: number): number {
    if (bytes > this.#depth) {
      // A new largest step deepens the bucket by the difference, as if it had been full.
      this.#tokens += bytes - this.#depth;
      this.#depth = bytes;
    }
    if (this.#at !== null) {
      this.#tokens = Math.min(this.#depth, this.#tokens + Math.max(0, now - this.#at) * this.#bytesPerMs);
    }
    this.#at = now;
    const deficit = bytes - this.#tokens;
    // Rounding must not turn a wait served in full into one more millisecond.
    const wait = deficit <= 1e-6 ? 0 : Math.ceil(deficit / this.#bytesPerMs - 1e-9);
    if (wait > this.#slackMs) return wait;
    this.#tokens -= bytes;
    return 0;
  }
}
