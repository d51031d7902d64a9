// One log line per request (edge/log.ts) with a request id that the answer
// carries in `x-request-id` and every problem+json body carries as
// `requestId`, so an operator can find the line for an error a user reports.
// A caller's own well-formed id is kept, so a client can correlate its
// retries; anything else is replaced.
import type { Context, MiddlewareHandler } from 'hono';
import { logEvent } from '../../edge/log.js';

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,64}$/;

const ids = new WeakMap<Request, string>();
const problems = new WeakMap<Request, string>();

/** The id of the request `c` is answering (one is made up for requests that bypassed the middleware). */
export function requestIdOf(c: Context): string {
  let id = ids.get(c.req.raw);
  if (!id) {
    id = crypto.randomUUID();
    ids.set(c.req.raw, id);
  }
  return id;
}

/** Records the problem type a request was answered with, for its log line. */
export function noteProblem(c: Context, slug: string): void {
  problems.set(c.req.raw, slug);
}

export const requestLog: MiddlewareHandler = async (c, next) => {
  const given = c.req.header(REQUEST_ID_HEADER);
  if (given && WELL_FORMED.test(given)) ids.set(c.req.raw, given);
  const id = requestIdOf(c);
  const started = Date.now();
  await next();
  try {
    c.res.headers.set(REQUEST_ID_HEADER, id);
  } catch {
    // A response passed through from elsewhere has immutable headers.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(REQUEST_ID_HEADER, id);
  }
  const url = new URL(c.req.url);
  logEvent(c.res.status >= 500 ? 'error' : 'info', 'request', {
    requestId: id,
    method: c.req.method,
    // The path only: a query string is the one place a careless client could put a secret.
    path: url.pathname,
    route: c.req.routePath,
    status: c.res.status,
    ms: Date.now() - started,
    problem: problems.get(c.req.raw),
  });
};
