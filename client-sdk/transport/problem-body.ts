// Turns an error response into an RFC 9457 problem, whatever the server (or a
// proxy in front of it) actually sent.
import { PROBLEM_CONTENT_TYPE, type Problem } from '../../protocol/problem.js';

/** Keeps error messages readable when a proxy answers with a whole HTML page. */
const MAX_DETAIL_CHARS = 500;

export async function readProblem(res: Response): Promise<Problem> {
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  const fallback: Problem = {
    type: 'about:blank',
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
    ...(text ? { detail: text.slice(0, MAX_DETAIL_CHARS) } : {}),
  };
  if (!contentType.toLowerCase().startsWith(PROBLEM_CONTENT_TYPE) && !contentType.includes('json'))
    return fallback;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fallback;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return fallback;
  const b = body as Record<string, unknown>;
  const problem: Problem = {
    ...b,
    type: typeof b.type === 'string' ? b.type : 'about:blank',
    title: typeof b.title === 'string' ? b.title : fallback.title,
    // The HTTP status is authoritative: a body may be stale or copied from elsewhere.
    status: res.status,
  };
  if (typeof b.detail !== 'string') delete problem.detail;
  return problem;
}
