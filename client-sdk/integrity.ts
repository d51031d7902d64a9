// Artifact verification with WebCrypto, which browsers, Node and workerd all
// provide: the head model is executed, so it must be exactly the bytes the
// manifest names.
import type { Artifact } from '../protocol/manifest.js';
import { IntegrityError } from './errors.js';

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Throws IntegrityError unless `bytes` has the artifact's size and sha256. */
export async function verifyArtifact(
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  artifact: Artifact,
): Promise<void> {
  // The size check is free and names the usual culprit (a truncated download).
  if (bytes.byteLength !== artifact.bytes) {
    throw new IntegrityError(name, `${artifact.bytes} bytes`, `${bytes.byteLength} bytes`);
  }
  const actual = await sha256Hex(bytes);
  if (actual !== artifact.sha256)
    throw new IntegrityError(name, `sha256 ${artifact.sha256}`, `sha256 ${actual}`);
}
