// The Worker serves its contract at /v1/openapi.json, and it lists exactly
// the app's routes (the document's validity is checked in Node:
// test/unit/api/openapi.test.ts, because the validator compiles schemas to
// code, which workerd does not allow).
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../workers/app.js';
import { OPERATIONS } from '../../../workers/openapi.js';
import { call } from '../helpers.js';

describe('GET /v1/openapi.json', () => {
  it('lists every route of the app and nothing else', async () => {
    const res = await call('/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    const actual = new Set(
      createApp()
        .routes.filter((r) => r.method !== 'ALL' && !r.path.endsWith('*'))
        .map((r) => `${r.method} ${r.path}`),
    );
    expect(new Set(listed)).toEqual(actual);
    expect(new Set(Object.keys(OPERATIONS))).toEqual(actual);
    expect(actual.size).toBeGreaterThan(40);
  });
});
