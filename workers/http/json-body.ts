import type { Context } from 'hono';
import { prettifyError, type z } from 'zod';
import { HttpProblem } from './problem.js';

/** Parses and validates a JSON body; every failure is a 400/415 problem naming what is wrong. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpProblem(
      'unsupported-media-type',
      `Expected Content-Type application/json, got ${type || 'none'}.`,
    );
  }
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new HttpProblem('bad-request', 'The body is not valid JSON.');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new HttpProblem('bad-request', prettifyError(parsed.error), { issues: parsed.error.issues });
  return parsed.data;
}
