import type { Context } from 'hono';
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPES,
  type ProblemSlug,
  problemType,
} from '../../protocol/problem.js';
import { noteProblem, requestIdOf } from './request-log.js';

const TITLES: Record<ProblemSlug, string> = {
  'malformed-frame': 'Malformed tensor frame',
  'bad-request': 'Bad request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  'unknown-model': 'Unknown model',
  'method-not-allowed': 'Method not allowed',
  'not-acceptable': 'Not acceptable',
  'upgrade-required': 'Upgrade required',
  conflict: 'Conflict',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'shape-not-allowed': 'Shape not allowed',
  'encoding-not-allowed': 'Encoding not allowed',
  'too-many-requests': 'Too many requests',
  'unknown-federation': 'Unknown federation',
  'federation-exists': 'Federation already exists',
  'federation-finished': 'Federation finished',
  'not-enrolled': 'Device not enrolled',
  'not-selected': 'Device not selected for this round',
  'no-open-round': 'No open round',
  'wrong-round': 'Wrong round',
  'round-closed': 'Round closed',
  'duplicate-submission': 'Duplicate submission',
  'out-of-order-step': 'Out-of-order step',
  'budget-exhausted': 'Byte budget exhausted',
  paced: 'Faster than the planned uplink rate',
  'invalid-update': 'Invalid update',
  'invalid-evaluation-set': 'Invalid evaluation set',
  'secagg-phase': 'Not in this phase of secure aggregation',
  'secagg-excluded': 'Device not part of this secure aggregation',
  'invalid-secagg': 'Invalid secure-aggregation message',
  'missing-artifacts': 'Artifacts missing from the registry',
  'artifact-mismatch': 'Artifact does not match its digest',
  'invalid-manifest': 'Invalid manifest',
  'non-finite-output': 'Non-finite model output',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

/**
 * Thrown anywhere in a handler; the app's error handler turns it into an RFC
 * 9457 response. Handlers never build error responses by hand.
 */
export class HttpProblem extends Error {
  constructor(
    readonly slug: ProblemSlug,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? TITLES[slug]);
  }

  get status(): number {
    return PROBLEM_TYPES[this.slug];
  }
}

export function problemResponse(c: Context, p: HttpProblem): Response {
  noteProblem(c, p.slug);
  const body = {
    type: problemType(p.slug),
    title: TITLES[p.slug],
    status: p.status,
    ...(p.detail ? { detail: p.detail } : {}),
    instance: new URL(c.req.url).pathname,
    ...p.extensions,
    requestId: requestIdOf(c),
  };
  return new Response(JSON.stringify(body), {
    status: p.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...p.headers },
  });
}
