import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ArtifactError } from '../../edge/artifacts.js';
import { logEvent } from '../../edge/log.js';
import { HttpProblem, problemResponse } from './problem.js';
import { requestIdOf } from './request-log.js';

/** Every error leaves the app as problem+json; unknown errors are logged and become a 500. */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof HttpProblem) return problemResponse(c, err);
  if (err instanceof HTTPException) return problemResponse(c, fromHttpException(err));
  if (err instanceof ArtifactError) {
    // The registry lacks (or holds a corrupt copy of) what a published manifest names: the operator's to fix.
    logEvent('error', 'registry', { requestId: requestIdOf(c), code: err.code, detail: err.message });
    return problemResponse(
      c,
      new HttpProblem('unavailable', err.message, { code: err.code }, { 'retry-after': '60' }),
    );
  }
  logEvent('error', 'unhandled', {
    requestId: requestIdOf(c),
    error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    stack: err instanceof Error ? (err.stack ?? null) : null,
  });
  return problemResponse(c, new HttpProblem('internal', 'The server failed to process the request.'));
};

export const onNotFound: NotFoundHandler = (c: Context) =>
  problemResponse(
    c,
    new HttpProblem('not-found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
  );

function fromHttpException(err: HTTPException): HttpProblem {
  switch (err.status) {
    case 413:
      return new HttpProblem('payload-too-large', err.message || undefined);
    case 415:
      return new HttpProblem('unsupported-media-type', err.message || undefined);
    case 401:
      return new HttpProblem('unauthorized', err.message || undefined);
    default:
      return err.status >= 500
        ? new HttpProblem('internal')
        : new HttpProblem('bad-request', err.message || undefined);
  }
}
