// Operator routes about the edge itself.
//
// GET /v1/admin/memory: every isolate this request reaches reports what it
// holds (edge/memory.ts): this Worker's, and one isolate of each shard
// script. Local workerd does not enforce the 128 MB isolate limit, so this is
// where a deployment's memory is measured.
import { Hono } from 'hono';
import { type MemoryReport, memoryReport } from '../../edge/memory.js';
import { shardService, shardSlots } from '../../edge/pipeline.js';
import { type AuthEnv, requireAdmin } from '../auth/middleware.js';

export const adminRoutes = new Hono<AuthEnv>();
adminRoutes.use('*', requireAdmin);

adminRoutes.get('/memory', async (c) => {
  const shards: MemoryReport[] = [];
  for (let i = 0; i < shardSlots(c.env); i++) shards.push(await shardService(c.env, i).memory());
  return c.json({ main: memoryReport(), shards });
});
