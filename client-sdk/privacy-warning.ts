// The SDK tells whoever runs it, once per model, when the deployment's uplink
// gives the input away: an affine head means the server can reconstruct
// every image exactly from the activations it receives. Deployments may
// choose that (it is the cheapest cut); nobody should choose it unknowingly.
import type { Manifest } from '../protocol/manifest.js';

/** Where the SDK's warnings go (default console.warn). */
export type WarningSink = (message: string) => void;

const warned = new Set<string>();

/** Warns through `sink` the first time this process uses a model whose uplink is affine in its input. */
export function warnIfAffineUplink(manifest: Manifest, sink: WarningSink = console.warn): void {
  if (!manifest.privacy?.affineUplink) return;
  const key = `${manifest.modelId}\u0000${manifest.artifacts.head.sha256}`;
  if (warned.has(key)) return;
  warned.add(key);
  sink(
    `splitflare: model ${manifest.modelId} sends an activation from which the server can reconstruct the input ` +
      `(${manifest.privacy.reason}). Use a deeper cut or a defended deployment if the data must stay private.`,
  );
}
