// Which federations exist, for GET /v1/federations: each coordinator knows only
// itself, so the Worker keeps an index in the registry bucket, one object per
// federation (federations/<id>). The entry is written before the coordinator
// is created, so a federation that exists is always listed; an entry whose
// creation then failed is one the listing finds no coordinator state for, and
// skips.
import { z } from 'zod';

const PREFIX = 'federations/';
export const MAX_PAGE = 100;

const Entry = z.object({ id: z.string(), modelId: z.string(), createdAt: z.number().int() });
export type IndexEntry = z.infer<typeof Entry>;

export async function indexFederation(bucket: R2Bucket, entry: IndexEntry): Promise<void> {
  await bucket.put(`${PREFIX}${entry.id}`, JSON.stringify(entry), {
    httpMetadata: { contentType: 'application/json' },
  });
}

/** One page of federation ids in id order, and the cursor of the next page. */
export async function listFederationIds(
  bucket: R2Bucket,
  limit: number,
  cursor?: string,
): Promise<{ ids: string[]; cursor: string | null }> {
  const listed = await bucket.list({ prefix: PREFIX, limit, cursor });
  return {
    ids: listed.objects.map((o) => o.key.slice(PREFIX.length)),
    cursor: listed.truncated ? listed.cursor : null,
  };
}
