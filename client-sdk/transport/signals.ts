// One AbortSignal per operation that fires on the caller's signals or the
// deadline, and remembers which of them fired: a timeout and a caller's abort
// are different errors (one may be worth retrying later, the other is a decision).
import { AbortError, type SplitflareError, TimeoutError } from '../errors.js';

export interface Deadline {
  readonly signal: AbortSignal;
  /** The typed error for the abort that happened (call only once `signal.aborted`). */
  error(cause?: unknown): SplitflareError;
  throwIfAborted(): void;
}

export function deadline(
  timeoutMs: number | undefined,
  callerSignals: ReadonlyArray<AbortSignal | undefined>,
): Deadline {
  const callers = callerSignals.filter((s): s is AbortSignal => s !== undefined);
  const timeout =
    timeoutMs !== undefined && Number.isFinite(timeoutMs) ? AbortSignal.timeout(timeoutMs) : undefined;
  const all = timeout ? [...callers, timeout] : callers;
  const signal = all.length === 1 ? all[0] : AbortSignal.any(all);
  const error = (cause?: unknown): SplitflareError => {
    // A caller's abort wins over a timeout that fired at about the same time.
    const caller = callers.find((s) => s.aborted);
    if (caller) return new AbortError({ cause: caller.reason ?? cause });
    return new TimeoutError(timeoutMs ?? 0, { cause: timeout?.reason ?? cause });
  };
  return {
    signal,
    error,
    throwIfAborted() {
      if (signal.aborted) throw error();
    },
  };
}

/** Resolves after `ms`, or rejects with the deadline's error as soon as it fires. */
export function sleep(ms: number, dl: Deadline): Promise<void> {
  dl.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(dl.error());
    };
    const timer = setTimeout(() => {
      dl.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    dl.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for shared work (which keeps running for other waiters) but gives up
 * when this caller's deadline fires.
 */
export function raceDeadline<T>(work: Promise<T>, dl: Deadline): Promise<T> {
  dl.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(dl.error());
    dl.signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        dl.signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        dl.signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
