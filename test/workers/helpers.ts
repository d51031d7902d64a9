import { exports } from 'cloudflare:workers';
import { FRAME_CONTENT_TYPE } from '../../protocol/media.js';
import { PROBLEM_CONTENT_TYPE, type Problem } from '../../protocol/problem.js';

export const BASE = 'http://splitflare.test';

export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export function postFrame(
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<Response> {
  return call(path, { method: 'POST', body, headers: { 'content-type': FRAME_CONTENT_TYPE, ...headers } });
}

/** Asserts a problem+json answer and returns its body. */
export async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith(PROBLEM_CONTENT_TYPE)) {
    throw new Error(`expected ${PROBLEM_CONTENT_TYPE}, got ${type} (${res.status}): ${await res.text()}`);
  }
  return (await res.json()) as Problem;
}
