// Artifact verification: the head model is executed, so it must be exactly
// the bytes the manifest names.
import { artifactMismatch } from '../common/digest.js';
import type { Artifact } from '../protocol/manifest.js';
import { IntegrityError } from './errors.js';

export { sha256Hex } from '../common/digest.js';

/** Throws IntegrityError unless `bytes` has the artifact's size and sha256. */
export async function verifyArtifact(
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  artifact: Artifact,
): Promise<void> {
  const mismatch = await artifactMismatch(bytes, artifact);
  if (mismatch) throw new IntegrityError(name, mismatch.expected, mismatch.actual);
}
