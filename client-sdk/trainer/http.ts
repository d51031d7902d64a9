// HTTP for the trainer on top of the SDK transport. Idempotent exchanges
// (downloads, join, the keyed submit) use the transport's retry loop as is.
// The step needs its own policy (a 429 can mean "budget spent for this round",
// which no wait cures), so it gets single attempts that keep the server's
// Retry-After, and decides itself what to retry.
import { ProblemError, TimeoutError, TransportError } from '../errors.js';
import type { RetryPolicy } from '../transport/backoff.js';
import { parseRetryAfter } from '../transport/backoff.js';
import { type FetchLike, type HttpResponse, request } from '../transport/http.js';
import { deadline } from '../transport/signals.js';

export interface HttpContext {
  fetch: FetchLike;
  policy: RetryPolicy;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Sent with every request (the device token). */
  headers: Record<string, string>;
}

/** A request with the transport's retries of transient failures. */
export function send(url: string, init: RequestInit, ctx: HttpContext): Promise<HttpResponse> {
  return request(url, withHeaders(init, ctx), {
    fetch: ctx.fetch,
    policy: ctx.policy,
    deadline: deadline(ctx.timeoutMs, [ctx.signal]),
  });
}

export type Attempt =
  | { ok: true; response: HttpResponse }
  | { ok: false; error: ProblemError | TransportError | TimeoutError; retryAfterMs?: number };

/**
 * One attempt, no retries. Failures come back as values (with Retry-After for
 * problems); only the caller's abort and programming errors throw.
 */
export async function attemptOnce(url: string, init: RequestInit, ctx: HttpContext): Promise<Attempt> {
  let retryAfter: string | null = null;
  const recording: FetchLike = async (input, requestInit) => {
    const res = await ctx.fetch(input, requestInit);
    retryAfter = res.headers.get('retry-after');
    return res;
  };
  try {
    const response = await request(url, withHeaders(init, ctx), {
      fetch: recording,
      policy: { ...ctx.policy, retries: 0 },
      deadline: deadline(ctx.timeoutMs, [ctx.signal]),
    });
    return { ok: true, response };
  } catch (err) {
    if (err instanceof TransportError || err instanceof TimeoutError) return { ok: false, error: err };
    if (err instanceof ProblemError)
      return { ok: false, error: err, retryAfterMs: parseRetryAfter(retryAfter) };
    throw err;
  }
}

function withHeaders(init: RequestInit, ctx: HttpContext): RequestInit {
  return { ...init, headers: { ...ctx.headers, ...(init.headers as Record<string, string> | undefined) } };
}
