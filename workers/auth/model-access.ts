// Per-model access (inference, and the device-side artifacts), stored in the R2 registry beside the manifests
// (edge/artifacts.ts) as `access/<model id>.json`: a model's access changes
// without republishing it, and a model without the object is public.
// Read on every inference request, so each isolate keeps it for a few
// seconds, as it does manifests: a change takes effect everywhere within that.

import { MANIFEST_TTL_MS } from '../../edge/artifacts.js';
import { ModelAccess } from '../../protocol/api.js';

export { ModelAccess };

export const PUBLIC_ACCESS: ModelAccess = { requireApiKey: false, privateHead: false };

export const accessKey = (modelId: string): string => `access/${modelId}.json`;

const cache = new Map<string, { access: ModelAccess; at: number }>();

export async function modelAccess(bucket: R2Bucket, modelId: string): Promise<ModelAccess> {
  const hit = cache.get(modelId);
  if (hit && Date.now() - hit.at < MANIFEST_TTL_MS) return hit.access;
  const object = await bucket.get(accessKey(modelId));
  let access = PUBLIC_ACCESS;
  if (object) {
    const parsed = ModelAccess.safeParse(await object.json().catch(() => undefined));
    // Only the route below writes this object; an unreadable one fails closed.
    access = parsed.success ? parsed.data : { requireApiKey: true, privateHead: true };
  }
  cache.set(modelId, { access, at: Date.now() });
  return access;
}

export async function putModelAccess(bucket: R2Bucket, modelId: string, access: ModelAccess): Promise<void> {
  await bucket.put(accessKey(modelId), JSON.stringify(access), {
    httpMetadata: { contentType: 'application/json' },
  });
  cache.delete(modelId);
}
