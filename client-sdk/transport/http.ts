// One HTTP exchange with retries: transient failures (network errors, 429,
// 502/503/504) are retried with backoff inside the operation's deadline;
// anything else comes back at once as a typed error. Callers only use it for
// idempotent requests (GETs, and POST /infer, which has no side effects).
import type { Problem } from '../../protocol/problem.js';
import { ProblemError, TransportError } from '../errors.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy, TRANSIENT_STATUSES } from './backoff.js';
import { readProblem } from './problem-body.js';
import { type Deadline, sleep } from './signals.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Uint8Array<ArrayBuffer>;
  /** Attempts made, 1 when the first one succeeded. */
  attempts: number;
}

export interface RequestContext {
  fetch: FetchLike;
  policy: RetryPolicy;
  deadline: Deadline;
}

export async function request(url: string, init: RequestInit, ctx: RequestContext): Promise<HttpResponse> {
  const { policy, deadline: dl } = ctx;
  const method = init.method ?? 'GET';
  for (let attempt = 1; ; attempt++) {
    dl.throwIfAborted();
    const outcome = await attemptOnce(url, { ...init, signal: dl.signal }, ctx);
    if ('response' in outcome) return { ...outcome.response, attempts: attempt };
    const retriesLeft = attempt <= policy.retries;
    if ('problem' in outcome) {
      const { problem, retryAfterMs } = outcome;
      if (!TRANSIENT_STATUSES.has(problem.status) || !retriesLeft) throw new ProblemError(problem, attempt);
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs)
        throw new ProblemError(problem, attempt);
      await sleep(retryAfterMs ?? backoffDelay(attempt - 1, policy), dl);
      continue;
    }
    if (!retriesLeft) {
      throw new TransportError(
        `${method} ${url} failed after ${attempt} attempts: ${messageOf(outcome.network)}`,
        attempt,
        {
          cause: outcome.network,
        },
      );
    }
    await sleep(backoffDelay(attempt - 1, policy), dl);
  }
}

type Outcome =
  | { response: Omit<HttpResponse, 'attempts'> }
  | { problem: Problem; retryAfterMs: number | undefined }
  | { network: unknown };

async function attemptOnce(url: string, init: RequestInit, ctx: RequestContext): Promise<Outcome> {
  const dl = ctx.deadline;
  try {
    const res = await ctx.fetch(url, init);
    if (res.ok) {
      // Reading the body belongs to the attempt: a connection that drops
      // mid-body is as transient as one that never answered.
      const body = new Uint8Array(await res.arrayBuffer());
      return { response: { status: res.status, headers: res.headers, body } };
    }
    const problem = await readProblem(res);
    return { problem, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
  } catch (e) {
    if (dl.signal.aborted) throw dl.error(e);
    return { network: e };
  }
}

function messageOf(e: unknown): string {
  if (e instanceof Error) {
    // undici puts the useful part (ECONNREFUSED, ...) on the cause of "fetch failed".
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
}
