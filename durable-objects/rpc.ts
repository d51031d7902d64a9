// Types of the RPC between the Worker's routes and the Durable Objects. RPC
// errors lose their class on the way back, so expected failures come back as
// values the routes turn into problem+json; only bugs throw.
import type { ProblemExtensions, ProblemSlug } from '../protocol/problem.js';

export type RpcResult<T> = { ok: true; value: T } | RpcFailure;

export interface RpcFailure {
  ok: false;
  /** Problem type slug (protocol/problem.ts). */
  problem: ProblemSlug;
  detail: string;
  /** Seconds, for 429/503 answers. */
  retryAfter?: number;
  /** Plain values only: an `unknown` here would make the RPC stubs' typing drop the whole failure branch. */
  extensions?: ProblemExtensions;
}

export const ok = <T>(value: T): RpcResult<T> => ({ ok: true, value });

export function fail(
  problem: ProblemSlug,
  detail: string,
  extra: Omit<RpcFailure, 'ok' | 'problem' | 'detail'> = {},
): RpcFailure {
  return { ok: false, problem, detail, ...extra };
}

/**
 * The failure of a result, if it is one. RPC stubs wrap results in
 * `Disposable` intersections that defeat narrowing on `ok`; this reads it
 * back without a cast at every call site.
 */
export function failureOf(result: { ok: boolean }): RpcFailure | undefined {
  return result.ok ? undefined : (result as RpcFailure);
}
