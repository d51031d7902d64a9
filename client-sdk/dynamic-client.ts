// Inference that picks where to run per request (client-sdk/placement.ts):
// all on the device, or split at the cut of any of several builds of the same
// model, from what earlier requests measured of this device's compute, its
// link and the edge's compute, and from each build's bytes per sample (the
// manifest's cut shape at the wire settings). Each placement is one
// SplitClient, so loading, checks and errors are the same as a fixed one's.

import { frameSize } from '../protocol/frame.js';
import { resolveWire } from './manifest-check.js';
import { type Placement, PlacementChooser } from './placement.js';
import { concreteShape } from './shapes.js';
import {
  type CoreSplitClientOptions,
  createSplitClient,
  type InferInput,
  type InferOptions,
  type InferResult,
  type SplitClient,
} from './split-client.js';

export interface DynamicClientOptions
  extends Omit<CoreSplitClientOptions, 'modelId' | 'placement' | 'version'> {
  /** Builds of one model, each split at its own cut (e.g. vit-fashion, vit-fashion-deep). */
  models: string[];
  /** Also offer running all of the first build on this device (its unsplit graph). Default true. */
  deviceOnly?: boolean;
}

export interface DynamicInferResult extends InferResult {
  /** Where it ran: `device`, or the build it was split at. */
  placement: string;
}

export interface DynamicClient {
  infer(input: InferInput, options?: InferOptions): Promise<DynamicInferResult>;
  /** What a request of `batch` samples is expected to take at each placement measured so far (ms). */
  expected(batch: number): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export const DEVICE_PLACEMENT = 'device';

export function createDynamicClient(options: DynamicClientOptions): DynamicClient {
  const { models, deviceOnly = true, ...shared } = options;
  if (models.length === 0) throw new RangeError('createDynamicClient needs at least one model');
  const clients = new Map<string, SplitClient>(
    models.map((modelId) => [modelId, createSplitClient({ ...shared, modelId })]),
  );
  if (deviceOnly) {
    clients.set(DEVICE_PLACEMENT, createSplitClient({ ...shared, modelId: models[0], placement: 'device' }));
  }
  let chooser: Promise<PlacementChooser> | undefined;

  const placements = async (): Promise<PlacementChooser> => {
    const out: Placement[] = [];
    for (const modelId of models) {
      const manifest = await clients.get(modelId)!.manifest();
      const wire = resolveWire(manifest, shared);
      const classes = concreteShape(manifest.output, 1);
      out.push({
        id: modelId,
        remote: true,
        upBytesPerSample: frameSize(concreteShape(manifest.cut.tensor, 1), wire.encoding, wire.granularity),
        downBytesPerSample: frameSize(classes, 'fp32', 'tensor'),
      });
    }
    if (deviceOnly)
      out.push({ id: DEVICE_PLACEMENT, remote: false, upBytesPerSample: 0, downBytesPerSample: 0 });
    return new PlacementChooser(out);
  };

  return {
    async infer(input, inferOptions) {
      chooser ??= placements();
      chooser.catch(() => {
        chooser = undefined;
      });
      const choice = await chooser;
      const placement = choice.choose(input.batch);
      const result = await clients.get(placement)!.infer(input, inferOptions);
      const { stats } = result;
      choice.observe(placement, {
        batch: input.batch,
        deviceMs: stats.headMs + stats.encodeMs,
        ...(placement === DEVICE_PLACEMENT
          ? {}
          : {
              edgeMs: stats.serverMs ?? 0,
              roundTripMs: stats.roundTripMs,
              bytes: stats.bytesUp + stats.bytesDown,
            }),
      });
      return { ...result, placement };
    },
    async expected(batch) {
      const c = await chooser;
      const out: Record<string, number> = {};
      for (const id of clients.keys()) {
        const ms = c?.expectedMs(id, batch);
        if (ms !== undefined) out[id] = ms;
      }
      return out;
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
