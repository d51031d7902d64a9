// A federation that trains at several cuts (config.cuts) keeps one set of
// trainables, by name; each build of the model leaves a different part of
// them on the device. What is "head" and what is "tail" is therefore a
// property of the cut a device trains at, not of the federation.
import type { TrainableSpec } from '../../protocol/manifest.js';
import type { FederationRow } from './storage.js';

/**
 * The trainables as the build `modelId` splits them between device and edge;
 * the federation's own split for its own model (or none named); null for a
 * model the federation does not train at.
 */
export function trainablesAt(fed: FederationRow, modelId?: string): TrainableSpec[] | null {
  if (modelId === undefined || modelId === fed.config.modelId) return fed.trainables;
  const cut = fed.cuts.find((c) => c.modelId === modelId);
  if (!cut) return null;
  const head = new Set(cut.head);
  return fed.trainables.map((t) => ({ ...t, owner: head.has(t.name) ? 'head' : 'tail' }));
}
