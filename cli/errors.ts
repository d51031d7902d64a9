// How a failed command reads: the API's problem details (type, title or
// detail, the request id an operator can find the server's log line by),
// local validation issues, or one line for anything else. Never a stack
// trace unless SPLITFLARE_DEBUG is set, and never the admin key, which no
// error here carries.
import { prettifyError, type z } from 'zod';
import { ApiError, UnreachableError } from '../operator/client.js';

/** The command line asked for something invalid; nothing was sent. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly zodError?: z.ZodError,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Problem members printed in their own place. Other scalar members (a code,
 * a reason) get a line each; structured ones (zod issues, already spelled out
 * in `detail`) are left to --json.
 */
const SHOWN = new Set(['type', 'title', 'status', 'detail', 'instance', 'requestId']);

const indent = (text: string, by = '  ') =>
  text
    .split('\n')
    .map((l) => by + l)
    .join('\n');

/** The error as the human output prints it, without a trailing newline. */
export function renderError(err: unknown): string {
  if (err instanceof ApiError) {
    const p = err.problem;
    const lines = [`error: ${p.title} (${p.status}) from ${err.method} ${err.path}`];
    if (p.detail && p.detail !== p.title) lines.push(indent(p.detail));
    lines.push(`  type: ${p.type}`);
    for (const [name, value] of Object.entries(p)) {
      if (SHOWN.has(name) || value === null || typeof value === 'object') continue;
      lines.push(`  ${name}: ${String(value)}`);
    }
    if (p.requestId) lines.push(`  requestId: ${p.requestId}`);
    return lines.join('\n');
  }
  if (err instanceof UsageError && err.zodError) {
    return `error: ${err.message}\n${indent(prettifyError(err.zodError))}`;
  }
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/** The error as --json prints it: one object under `error`. */
export function errorJson(err: unknown): { error: Record<string, unknown> } {
  if (err instanceof ApiError) return { error: { ...err.problem, method: err.method, path: err.path } };
  if (err instanceof UsageError && err.zodError) {
    return { error: { message: err.message, issues: err.zodError.issues } };
  }
  if (err instanceof UnreachableError) return { error: { message: err.message, url: err.baseUrl } };
  return { error: { message: err instanceof Error ? err.message : String(err) } };
}
