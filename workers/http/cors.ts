import { cors } from 'hono/cors';
import { SESSION_PASS_HEADER } from '../../protocol/federation.js';
import { REQUEST_ID_HEADER } from './request-log.js';

/**
 * Browsers run the device SDK from the app's own origin, so the API answers
 * cross-origin requests. Requests authenticate with bearer tokens, never
 * cookies, so credentials stay off and any origin may call unless the
 * operator lists origins in CORS_ORIGINS (comma-separated; "*" for any).
 */
export const apiCors = cors({
  origin: (origin, c) => {
    const configured = ((c.env as Partial<Env> | undefined)?.CORS_ORIGINS ?? '*').trim();
    if (configured === '*') return '*';
    return configured
      .split(',')
      .map((o) => o.trim())
      .includes(origin)
      ? origin
      : null;
  },
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: [
    'authorization',
    'content-type',
    'accept',
    'if-none-match',
    'x-api-key',
    REQUEST_ID_HEADER,
    SESSION_PASS_HEADER,
  ],
  exposeHeaders: [
    'etag',
    'location',
    'retry-after',
    'x-budget-used',
    'x-budget-bytes',
    'x-ratelimit-limit',
    'x-ratelimit-remaining',
    REQUEST_ID_HEADER,
  ],
  maxAge: 600,
});
