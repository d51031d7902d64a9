import { Hono } from 'hono';
import { onError, onNotFound } from './http/errors.js';
import { federationRoutes } from './routes/federations.js';
import { modelsRoutes } from './routes/models.js';

export function createApp() {
  const app = new Hono<{ Bindings: Env }>();
  app.onError(onError);
  app.notFound(onNotFound);
  app.get('/', (c) => c.json({ name: 'splitflare', api: '/v1' }));
  app.route('/v1/models', modelsRoutes);
  app.route('/v1/federations', federationRoutes);
  return app;
}
