// What the federation routes read from a path: the federation (its
// coordinator object) and integer parameters, each refused with a precise
// 4xx before any object is reached.
import { FederationId } from '../../protocol/federation.js';
import { HttpProblem } from '../http/problem.js';

export const coordinator = (env: Env, fid: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(fid));

export function federationId(raw: string): string {
  const parsed = FederationId.safeParse(raw);
  if (!parsed.success) throw new HttpProblem('unknown-federation', `No federation with id "${raw}".`);
  return parsed.data;
}

/** A round, step or version number: at most nine digits, so it never names a far-off object. */
export function nonNegativeInt(raw: string, what: string): number {
  const n = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new HttpProblem('bad-request', `${what} must be a non-negative integer.`);
  }
  return n;
}
