// The model registry on R2: a manifest per model id, and artifacts addressed
// by their sha256, so a model is added or replaced by writing objects, with
// no Worker rebuild or redeploy. The same layout is what `splitflare-models
// publish` writes through the API and what `wrangler r2 object put` can write
// by hand:
//
//   manifests/<model id>.json   the manifest (protocol/manifest.ts)
//   artifacts/<sha256>          an artifact's bytes
//
// Whoever reads an artifact to run it checks its size and sha256 first.
import { artifactMismatch } from '../common/digest.js';
import { type Artifact, Manifest } from '../protocol/manifest.js';

export const manifestKey = (modelId: string): string => `manifests/${modelId}.json`;
export const artifactKey = (sha256: string): string => `artifacts/${sha256}`;
const MANIFEST_PREFIX = 'manifests/';

/** An artifact is missing from the registry or is not the bytes its manifest names. */
export class ArtifactError extends Error {
  constructor(
    readonly code: 'missing' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactError';
  }
}

interface Cached {
  manifest: Manifest | undefined;
  at: number;
}

// Per isolate: a manifest is small and read on every request, so it is kept
// for a few seconds; replacing a model takes effect within that time.
const manifests = new Map<string, Cached>();
export const MANIFEST_TTL_MS = 5_000;

export class ArtifactStore {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly ttlMs = MANIFEST_TTL_MS,
  ) {}

  /** The model's manifest, or undefined when the registry has none (or only an invalid one). */
  async manifest(modelId: string): Promise<Manifest | undefined> {
    const hit = manifests.get(modelId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.manifest;
    const object = await this.bucket.get(manifestKey(modelId));
    let manifest: Manifest | undefined;
    if (object) {
      const parsed = Manifest.safeParse(await object.json().catch(() => undefined));
      // Only a valid manifest under its own id counts; the publish route never writes anything else.
      manifest = parsed.success && parsed.data.modelId === modelId ? parsed.data : undefined;
    }
    manifests.set(modelId, { manifest, at: Date.now() });
    return manifest;
  }

  /** Every published model's manifest. */
  async manifests(): Promise<Manifest[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix: MANIFEST_PREFIX, cursor });
      for (const o of page.objects) ids.push(o.key.slice(MANIFEST_PREFIX.length, -'.json'.length));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    const found = await Promise.all(ids.map((id) => this.manifest(id)));
    return found.filter((m): m is Manifest => m !== undefined);
  }

  /** Writes a manifest (the caller has checked that its artifacts are present). */
  async putManifest(manifest: Manifest): Promise<void> {
    await this.bucket.put(manifestKey(manifest.modelId), JSON.stringify(manifest), {
      httpMetadata: { contentType: 'application/json' },
    });
    manifests.delete(manifest.modelId);
  }

  /** The artifact's bytes, checked against its size and sha256. */
  async bytes(artifact: Artifact): Promise<Uint8Array<ArrayBuffer>> {
    const object = await this.bucket.get(artifactKey(artifact.sha256));
    if (!object) {
      throw new ArtifactError(
        'missing',
        `artifact ${artifact.file} (${artifact.sha256}) is not in the registry`,
      );
    }
    const bytes = new Uint8Array(await object.arrayBuffer());
    const mismatch = await artifactMismatch(bytes, artifact);
    if (mismatch) {
      throw new ArtifactError(
        'corrupt',
        `artifact ${artifact.file} in the registry has ${mismatch.actual}, expected ${mismatch.expected}`,
      );
    }
    return bytes;
  }

  /** The artifact as a stream, for handing to a client that verifies it itself; null when absent. */
  async body(artifact: Artifact): Promise<R2ObjectBody | null> {
    return this.bucket.get(artifactKey(artifact.sha256));
  }

  /** Which of these artifacts are absent (or of the wrong size) in the registry. */
  async missing(artifacts: readonly Artifact[]): Promise<Artifact[]> {
    const heads = await Promise.all(artifacts.map((a) => this.bucket.head(artifactKey(a.sha256))));
    return artifacts.filter((a, i) => heads[i]?.size !== a.bytes);
  }
}
