// Seeds the local R2 registry with the built models (artifacts/seed.ts), the
// way `splitflare-models publish` fills a deployed one: artifacts under their
// sha256, then the manifest. The bucket is shared by the test files and the
// shard Workers; seeding is idempotent.
import { env } from 'cloudflare:workers';
import { beforeAll } from 'vitest';
import { SEED } from '../../artifacts/seed.js';
import { artifactKey, manifestKey } from '../../edge/artifacts.js';

beforeAll(async () => {
  for (const { manifest, files } of SEED) {
    const id = (manifest as { modelId: string }).modelId;
    const existing = await env.MODELS.head(manifestKey(id));
    if (existing) continue;
    for (const [sha256, bytes] of Object.entries(files)) {
      await env.MODELS.put(artifactKey(sha256), bytes, { sha256 });
    }
    await env.MODELS.put(manifestKey(id), JSON.stringify(manifest));
  }
});
