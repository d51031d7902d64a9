// The API contract is valid OpenAPI 3.1, checked by a maintained validator,
// and carries the zod schemas the routes validate with. (That it lists every
// route of the app, and is what the Worker serves, is checked in workerd:
// test/workers/api/openapi.test.ts.)
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, openApiDocument, UndescribedRoute } from '../../../workers/openapi.js';

const routes = Object.keys(OPERATIONS).map((key) => {
  const [method, path] = key.split(' ');
  return { method, path };
});
type Doc = {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
};
const doc = openApiDocument(routes) as Doc;

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('carries the schemas the routes validate JSON bodies with', () => {
    const create = doc.paths['/v1/federations'].post.requestBody!.content['application/json'].schema as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    expect(Object.keys(create.properties)).toEqual(['id', 'config']);
    expect(create.properties.config.properties).toHaveProperty('secureAggregation');
    expect(doc.paths['/v1/federations/{fid}/rounds/{round}/secagg/keys'].post.requestBody).toBeDefined();
  });

  it('refuses to describe a route it has no words for', () => {
    expect(() => openApiDocument([...routes, { method: 'GET', path: '/v1/new' }])).toThrow(UndescribedRoute);
  });
});
