// RFC 9457 problem details: the one error shape of the HTTP API. The `type`s
// are stable identifiers clients may switch on.

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEM_TYPES = {
  'malformed-frame': 400,
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'unknown-model': 404,
  'method-not-allowed': 405,
  'not-acceptable': 406,
  'upgrade-required': 426,
  conflict: 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'shape-not-allowed': 422,
  'encoding-not-allowed': 422,
  'too-many-requests': 429,
  // Federated training.
  'unknown-federation': 404,
  'federation-exists': 409,
  'federation-finished': 409,
  'not-enrolled': 403,
  'not-selected': 409,
  'no-open-round': 409,
  'wrong-round': 409,
  'round-closed': 409,
  'duplicate-submission': 409,
  'out-of-order-step': 409,
  'budget-exhausted': 429,
  // The step came sooner than the device's planned uplink rate allows: retry after Retry-After.
  paced: 429,
  'invalid-update': 422,
  'invalid-evaluation-set': 422,
  // Secure aggregation: a message the round's phase does not take now, from a
  // device the phase does not include, or malformed.
  'secagg-phase': 409,
  'secagg-excluded': 409,
  'invalid-secagg': 422,
  // The model registry.
  'missing-artifacts': 422,
  'artifact-mismatch': 422,
  'invalid-manifest': 422,
  'non-finite-output': 422,
  internal: 500,
  unavailable: 503,
} as const;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

/** Members a problem adds beside type, title, status and detail (what was expected, a machine code, …). */
export type ProblemExtensions = Record<string, string | number | boolean | null | Array<string | number>>;

export function problemType(slug: ProblemSlug): string {
  return `urn:splitflare:problem:${slug}`;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export function slugOf(type: string): ProblemSlug | undefined {
  const prefix = 'urn:splitflare:problem:';
  if (!type.startsWith(prefix)) return undefined;
  const slug = type.slice(prefix.length);
  return slug in PROBLEM_TYPES ? (slug as ProblemSlug) : undefined;
}
