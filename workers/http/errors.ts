import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ArtifactError } from '../../edge/artifacts.js';
import { HttpProblem, problemResponse } from './problem.js';

/** Every error leaves the app as problem+json; unknown errors are logged and become a 500. */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof HttpProblem) return problemResponse(c, err);
  if (err instanceof HTTPException) return problemResponse(c, fromHttpException(err));
  if (err instanceof ArtifactError) {
    // The registry lacks (or holds a corrupt copy of) what a published manifest names: the operator's to fix.
    console.error('registry', err.message);
    return problemResponse(
      c,
      new HttpProblem('unavailable', err.message, { code: err.code }, { 'retry-after': '60' }),
    );
  }
  console.error('unhandled error', err);
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
