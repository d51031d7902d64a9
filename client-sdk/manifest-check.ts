// Parses the manifest and checks it against what this client was configured to
// do, so a mismatch fails once, up front, with a clear message instead of as a
// 422 on every request.
import type { ScaleGranularity } from '../protocol/encoding.js';
import { Manifest } from '../protocol/manifest.js';
import { ManifestError } from './errors.js';
import { parseJsonBody } from './transport/json-body.js';
import type { WireSettings } from './wire-settings.js';

export function parseManifest(body: Uint8Array, modelId: string): Manifest {
  const parsed = parseJsonBody(body, Manifest, 'the manifest', (m, o) => new ManifestError(m, o));
  const manifest = parsed;
  if (manifest.modelId !== modelId) {
    throw new ManifestError(`asked for model ${modelId}, the manifest describes ${manifest.modelId}`);
  }
  for (const [what, spec] of [
    ['input', manifest.input],
    ['cut tensor', manifest.cut.tensor],
  ] as const) {
    if (spec.dtype !== 'float32')
      throw new ManifestError(`the ${what} ${spec.name} is ${spec.dtype}, not float32`);
  }
  return manifest;
}

/** The granularity to send: the requested one if the tail accepts it, else the tail's preferred one. */
export function resolveWire(manifest: Manifest, requested: WireSettings): Required<WireSettings> {
  const { encodings, granularities } = manifest.wire;
  if (!encodings.includes(requested.encoding)) {
    throw new ManifestError(
      `encoding ${requested.encoding} is not accepted; the tail takes ${encodings.join(', ')}`,
    );
  }
  let granularity: ScaleGranularity;
  if (requested.granularity !== undefined) {
    if (!granularities.includes(requested.granularity)) {
      throw new ManifestError(
        `granularity ${requested.granularity} is not accepted; the tail takes ${granularities.join(', ')}`,
      );
    }
    granularity = requested.granularity;
  } else {
    granularity = granularities.includes('token') ? 'token' : granularities[0];
  }
  return { encoding: requested.encoding, granularity, rounding: requested.rounding ?? 'nearest' };
}
