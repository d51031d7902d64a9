// A model's inference access (admin): GET and PUT /v1/models/:id/access
// { requireApiKey }. Mounted ahead of the models routes (app.ts).
import { Hono } from 'hono';
import { ArtifactStore } from '../../edge/artifacts.js';
import { type AuthEnv, requireAdmin } from '../auth/middleware.js';
import { ModelAccess, modelAccess, putModelAccess } from '../auth/model-access.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { HttpProblem } from '../http/problem.js';

export const modelAccessRoutes = new Hono<AuthEnv>();

async function knownModel(env: Env, id: string): Promise<string> {
  if (!(await new ArtifactStore(env.MODELS).manifest(id))) {
    throw new HttpProblem('unknown-model', `No model with id "${id}".`);
  }
  return id;
}

modelAccessRoutes.get('/:id/access', requireAdmin, async (c) =>
  c.json(await modelAccess(c.env.MODELS, await knownModel(c.env, c.req.param('id')))),
);

modelAccessRoutes.put('/:id/access', requireAdmin, limitBody(4 * 1024), async (c) => {
  const id = await knownModel(c.env, c.req.param('id'));
  const access = await jsonBody(c, ModelAccess);
  await putModelAccess(c.env.MODELS, id, access);
  return c.json(access);
});
