// Scoring a federation's versions on the operator's held-out set, from the
// coordinator: the set from R2 (checked against the digest the coordinator
// recorded when it was given), each version's values from the coordinator's
// own storage, the model through the edge pipeline (edge/evaluate.ts). The
// admin's evaluate route and the hold-back gate both come here.

import { sha256Hex } from '../../common/digest.js';
import { ArtifactError, ArtifactStore } from '../../edge/artifacts.js';
import { evaluateAtEdge } from '../../edge/evaluate.js';
import type { TrainableValues } from '../../edge/shard-runtime.js';
import {
  decodeEvaluationSet,
  type EvaluationRecord,
  type EvaluationSet,
  EvaluationSetError,
  type EvaluationTarget,
} from '../../protocol/evaluation.js';
import type { Manifest } from '../../protocol/manifest.js';
import { fail, ok, type RpcResult } from '../rpc.js';
import type { CoordinatorStore, EvaluationSetRef, FederationRow } from './storage.js';
import { numel } from './update.js';

/** Where a federation's evaluation set lives in the models bucket. */
export const evaluationSetKey = (federationId: string) => `evaluation-sets/${federationId}`;

/** What a set must match: the model's per-sample input and its class count. */
export function evaluationTarget(manifest: Manifest): EvaluationTarget {
  const dims = (shape: readonly (number | string)[]) => shape.map((d) => (typeof d === 'number' ? d : 1));
  const output = dims(manifest.output.shape);
  return { sampleShape: dims(manifest.input.shape).slice(1), classes: output[output.length - 1] };
}

function versionValues(store: CoordinatorStore, fed: FederationRow, version: number): TrainableValues {
  const values: Record<string, Float32Array> = {};
  for (const t of fed.trainables) {
    const v = store.readAdapter(version, t.name, numel(t.shape));
    if (!v) throw new Error(`version ${version} lacks ${t.name}`);
    values[t.name] = v;
  }
  return values;
}

async function loadSet(env: Env, fed: FederationRow, ref: EvaluationSetRef, manifest: Manifest) {
  const object = await env.MODELS.get(evaluationSetKey(fed.id));
  if (!object) return fail('unavailable', 'The evaluation set is missing from the bucket; upload it again.');
  const bytes = new Uint8Array(await object.arrayBuffer());
  if ((await sha256Hex(bytes)) !== ref.digest) {
    return fail('unavailable', 'The stored evaluation set does not match the one recorded; upload it again.');
  }
  try {
    return ok(decodeEvaluationSet(bytes, evaluationTarget(manifest)));
  } catch (err) {
    // Valid when it was given: the model changed its input or classes since.
    if (err instanceof EvaluationSetError)
      return fail('conflict', `The evaluation set no longer fits ${manifest.modelId}: ${err.message}`);
    throw err;
  }
}

/**
 * Each version's score on the federation's set. A version already scored on
 * this very set (same digest, at the edge) keeps its score.
 */
export async function scoreVersions(
  env: Env,
  store: CoordinatorStore,
  fed: FederationRow,
  versions: readonly number[],
): Promise<RpcResult<Map<number, EvaluationRecord>>> {
  const ref = fed.evaluationSet;
  if (!ref)
    return fail('bad-request', 'This federation has no evaluation set: PUT one to …/evaluation-set first.');
  const scores = new Map<number, EvaluationRecord>();
  let context: { manifest: Manifest; set: EvaluationSet } | undefined;
  try {
    for (const version of versions) {
      const known = store.versionRow(version)?.evaluation;
      if (known?.source === 'edge' && known.by === ref.digest) {
        scores.set(version, known);
        continue;
      }
      if (!context) {
        const manifest = await new ArtifactStore(env.MODELS).manifest(fed.config.modelId);
        if (!manifest)
          return fail('unknown-model', `Model ${fed.config.modelId} is no longer in the registry.`);
        const set = await loadSet(env, fed, ref, manifest);
        if (!set.ok) return set;
        context = { manifest, set: set.value };
      }
      const scored = await evaluateAtEdge(
        env,
        context.manifest,
        versionValues(store, fed, version),
        context.set,
      );
      if (!scored.ok) return scored;
      scores.set(version, { ...scored.value, source: 'edge', by: ref.digest, evaluatedAt: Date.now() });
    }
  } catch (err) {
    if (err instanceof ArtifactError) return fail('unavailable', err.message, { retryAfter: 5 });
    throw err;
  }
  return ok(scores);
}
