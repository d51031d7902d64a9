import { exports } from 'cloudflare:workers';
import { SESSION_PASS_HEADER } from '../../protocol/federation.js';
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

const passes = new Map<string, string>();

/** Keeps the session pass of a join's answer (a 200), under the device token that joined; answers `res`. */
export async function rememberPass(token: string, res: Response): Promise<Response> {
  if (res.status === 200) {
    const { sessionPass } = (await res.clone().json()) as { sessionPass?: string };
    if (sessionPass) passes.set(token, sessionPass);
  }
  return res;
}

/** A device's step or submit headers: its token and the pass of its latest join, if it joined. */
export function roundHeaders(token: string): Record<string, string> {
  const pass = passes.get(token);
  return { authorization: `Bearer ${token}`, ...(pass ? { [SESSION_PASS_HEADER]: pass } : {}) };
}
