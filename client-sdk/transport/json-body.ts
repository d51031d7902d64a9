import { z } from 'zod';

/**
 * A response body as JSON validated by `schema`. Failures throw `makeError`
 * (the caller's error type: a bad manifest and a bad ticket are different
 * faults) with a message naming `what`.
 */
export function parseJsonBody<S extends z.ZodType>(
  body: Uint8Array,
  schema: S,
  what: string,
  makeError: (message: string, options?: ErrorOptions) => Error,
): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch (err) {
    throw makeError(`${what} is not JSON`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw makeError(`${what} is invalid:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}
