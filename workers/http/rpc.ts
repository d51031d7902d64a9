import type { RpcResult } from '../../durable-objects/rpc.js';
import { HttpProblem } from './problem.js';

/** The value of a Durable Object RPC result, or the problem it reports as an HTTP error. */
export function unwrap<T>(result: RpcResult<T>): T {
  if (result.ok) return result.value;
  throw new HttpProblem(
    result.problem,
    result.detail,
    result.extensions ?? {},
    result.retryAfter !== undefined
      ? { 'retry-after': String(Math.max(1, Math.ceil(result.retryAfter))) }
      : {},
  );
}
