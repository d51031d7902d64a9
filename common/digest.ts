// SHA-256 through WebCrypto (workerd, browsers and Node all have it), and the
// one check both sides make before running an artifact: exactly the bytes the
// manifest names.
import type { Artifact } from '../protocol/manifest.js';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** How `bytes` differ from `artifact` ({ expected, actual }), or null when they are its bytes. */
export async function artifactMismatch(
  bytes: Uint8Array,
  artifact: Pick<Artifact, 'bytes' | 'sha256'>,
): Promise<{ expected: string; actual: string } | null> {
  // The size check is free and names the usual culprit (a truncated download).
  if (bytes.byteLength !== artifact.bytes) {
    return { expected: `${artifact.bytes} bytes`, actual: `${bytes.byteLength} bytes` };
  }
  const actual = await sha256Hex(bytes);
  return actual === artifact.sha256
    ? null
    : { expected: `sha256 ${artifact.sha256}`, actual: `sha256 ${actual}` };
}
