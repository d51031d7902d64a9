import { Hono } from 'hono';
import { apiCors } from './http/cors.js';
import { onError, onNotFound } from './http/errors.js';
import { requestLog } from './http/request-log.js';
import { openApiDocument } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { artifactRoutes } from './routes/artifacts.js';
import { federationRoutes } from './routes/federations.js';
import { modelAccessRoutes } from './routes/model-access.js';
import { modelsRoutes } from './routes/models.js';
import { secureAggregationRoutes } from './routes/secure-aggregation.js';
import { versionRoutes } from './routes/versions.js';

export function createApp() {
  const app = new Hono<{ Bindings: Env }>();
  app.onError(onError);
  app.notFound(onNotFound);
  app.use('*', requestLog);
  app.use('/v1/*', apiCors);
  app.get('/', (c) => c.json({ name: 'splitflare', api: '/v1' }));
  // Ahead of the models routes, whose `/:id/*` middleware would otherwise answer first.
  app.route('/v1/models', modelAccessRoutes);
  app.route('/v1/models', modelsRoutes);
  app.route('/v1/api-keys', apiKeyRoutes);
  app.route('/v1/artifacts', artifactRoutes);
  app.route('/v1/admin', adminRoutes);
  app.route('/v1/federations', federationRoutes);
  app.route('/v1/federations', versionRoutes);
  app.route('/v1/federations', secureAggregationRoutes);
  let contract: Record<string, unknown> | undefined;
  app.get('/v1/openapi.json', (c) => {
    contract ??= openApiDocument(app.routes);
    return c.json(contract);
  });
  return app;
}
