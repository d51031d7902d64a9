// Structured logs: one JSON object per line on the console, which workerd
// prints, `wrangler tail` streams and Workers Logs indexes. Routes and
// objects log through here only, so every line has the same shape and no
// caller can put a header or a body in it by accident: fields are plain
// values chosen at the call site, and nothing logs request headers (where
// tokens and keys travel) or bodies.

export type LogValue = string | number | boolean | null;
export type LogFields = Record<string, LogValue | undefined>;

export function logEvent(level: 'info' | 'warn' | 'error', event: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
