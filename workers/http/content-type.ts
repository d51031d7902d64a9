import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from './problem.js';

/** Requires the request's media type (parameters ignored) to be `expected`. */
export const requireContentType =
  (expected: string): MiddlewareHandler =>
  async (c, next) => {
    const got = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (got !== expected) {
      throw new HttpProblem(
        'unsupported-media-type',
        `Expected Content-Type ${expected}, got ${got || 'none'}.`,
        {
          expected,
        },
      );
    }
    await next();
  };
