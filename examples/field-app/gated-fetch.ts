// The trainer's network, wrapped so a person can pause a round and so the
// page can say what the link is doing. The SDK retries failed requests with
// backoff on its own; this wrapper only decides when a request may leave and
// counts what happened:
// - paused, or the browser knows it is offline: requests wait here (no
//   retries are spent on a link that is known to be down) until resumed or
//   back online;
// - each attempt gets its own time limit once it leaves, so a connection
//   that hangs fails and is retried instead of eating the round's budget.
import type { FetchLike } from '@splitflare/client';

export interface LinkState {
  paused: boolean;
  online: boolean;
  /** Requests waiting for resume or for the link. */
  waiting: number;
  /** Requests that left. */
  sent: number;
  /** Of those, the ones that failed in transit (the SDK retries them). */
  failed: number;
  /** Failures since the last request that got an answer: > 0 while the SDK is retrying. */
  failingNow: number;
}

export interface GatedFetch {
  fetch: FetchLike;
  pause(): void;
  resume(): void;
  readonly state: LinkState;
  /** Stops listening to the browser's online/offline events. */
  dispose(): void;
}

export function gatedFetch(
  options: { onChange?: (state: LinkState) => void; attemptTimeoutMs?: number; base?: FetchLike } = {},
): GatedFetch {
  const base: FetchLike = options.base ?? ((input, init) => globalThis.fetch(input, init));
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 45_000;
  const state: LinkState = {
    paused: false,
    online: navigator.onLine,
    waiting: 0,
    sent: 0,
    failed: 0,
    failingNow: 0,
  };
  let wake: (() => void)[] = [];

  const blocked = () => state.paused || !state.online;
  const changed = () => {
    if (!blocked()) {
      const waiters = wake;
      wake = [];
      for (const w of waiters) w();
    }
    options.onChange?.({ ...state });
  };
  const onLine = () => {
    state.online = navigator.onLine;
    changed();
  };
  window.addEventListener('online', onLine);
  window.addEventListener('offline', onLine);

  const opened = (signal: AbortSignal | null | undefined) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        wake = wake.filter((w) => w !== go);
        reject(signal?.reason);
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      wake.push(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const gated: FetchLike = async (input, init) => {
    if (blocked()) {
      state.waiting++;
      changed();
      try {
        while (blocked()) await opened(init.signal);
      } finally {
        state.waiting--;
      }
    }
    state.sent++;
    changed();
    const limit = AbortSignal.timeout(attemptTimeoutMs);
    // The limit also covers reading the body; aborting an answer already read does nothing.
    const signal = init.signal ? AbortSignal.any([init.signal, limit]) : limit;
    try {
      const res = await base(input, { ...init, signal });
      state.failingNow = 0;
      changed();
      return res;
    } catch (err) {
      // The caller's own abort (cancel, or the SDK's deadline) is no link failure.
      if (!init.signal?.aborted) {
        state.failed++;
        state.failingNow++;
        changed();
      }
      throw err;
    }
  };

  return {
    fetch: gated,
    pause() {
      state.paused = true;
      changed();
    },
    resume() {
      state.paused = false;
      changed();
    },
    get state() {
      return { ...state };
    },
    dispose() {
      window.removeEventListener('online', onLine);
      window.removeEventListener('offline', onLine);
    },
  };
}
