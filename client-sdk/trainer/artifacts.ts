// Downloads, verifies and loads what the device trains with: the manifest and
// the head's forward and backward graphs. Loaded once per model and reused by
// every later round; a failed load is forgotten so the next round tries again.
import type { Manifest, TrainingSpec } from '../../protocol/manifest.js';
import { ManifestError } from '../errors.js';
import { verifyArtifact } from '../integrity.js';
import { parseManifest } from '../manifest-check.js';
import { type WarningSink, warnIfAffineUplink } from '../privacy-warning.js';
import type { HeadSession, SessionFactory } from '../runtime/types.js';
import { bindHeadGraphs, type HeadGraphs } from './head-graphs.js';
import { type HttpContext, send } from './http.js';
import type { FederationUrls } from './urls.js';

export type TrainingManifest = Manifest & { training: TrainingSpec };

export interface TrainingModel {
  manifest: TrainingManifest;
  graphs: HeadGraphs;
  /** Bytes downloaded to load it (manifest and graphs). */
  bytes: number;
}

export interface ModelCache {
  /** Resolves the model, downloading it on first use; later calls of the same id share it. */
  get(modelId: string): Promise<TrainingModel>;
  release(): Promise<void>;
}

export function modelCache(
  urls: FederationUrls,
  ctx: HttpContext,
  sessionFactory: SessionFactory,
  onWarning?: WarningSink,
): ModelCache {
  const loads = new Map<string, Promise<TrainingModel>>();

  const load = async (modelId: string): Promise<TrainingModel> => {
    const res = await send(urls.manifest(modelId), { headers: { accept: 'application/json' } }, ctx);
    const manifest = parseManifest(res.body, modelId);
    warnIfAffineUplink(manifest, onWarning);
    if (!manifest.training) throw new ManifestError(`model ${modelId} was not built for training`);
    const training = manifest.training;
    const fetchGraph = async (name: 'headForward' | 'headBackward') => {
      const artifact = training.artifacts[name];
      if (!artifact) return undefined;
      const graph = await send(
        urls.trainingArtifact(modelId, name),
        { headers: { accept: 'application/octet-stream' } },
        ctx,
      );
      // The graph is executed on the device: it must be exactly what the manifest names.
      await verifyArtifact(name, graph.body, artifact);
      return graph.body;
    };
    const [forwardBytes, backwardBytes] = await Promise.all([
      fetchGraph('headForward'),
      fetchGraph('headBackward'),
    ]);
    if (!forwardBytes) throw new ManifestError(`model ${modelId} has no headForward`);
    const forward = await sessionFactory(forwardBytes);
    let backward: HeadSession | undefined;
    try {
      backward = backwardBytes ? await sessionFactory(backwardBytes) : undefined;
    } catch (err) {
      await forward.release();
      throw err;
    }
    const typed = { ...manifest, training };
    return {
      manifest: typed,
      graphs: bindHeadGraphs(typed, forward, backward),
      bytes: res.body.byteLength + forwardBytes.byteLength + (backwardBytes?.byteLength ?? 0),
    };
  };

  return {
    get(modelId) {
      let pending = loads.get(modelId);
      if (!pending) {
        pending = load(modelId);
        loads.set(modelId, pending);
        pending.catch(() => loads.delete(modelId));
      }
      return pending;
    },
    async release() {
      const pending = [...loads.values()];
      loads.clear();
      for (const p of pending) {
        const model = await p.catch(() => undefined);
        await model?.graphs.release();
      }
    },
  };
}
