// Builds the manifest (protocol/manifest.ts) that tells a device how to run
// the head and what the tail endpoint accepts.
import { createHash } from 'node:crypto';
import { ENCODINGS, GRANULARITIES } from '../../protocol/encoding.js';
import {
  type Artifact,
  Manifest,
  type PipelineSpec,
  type TensorSpec,
  type WeightFormat,
} from '../../protocol/manifest.js';
import { parameterCount } from '../graph/params.js';
import { graphOf, opsetOf, shapeOf } from '../onnx/model.js';
import { DataType, type ModelProto, type ValueInfoProto } from '../onnx/proto.js';
import { BATCH_DIM } from './probe.js';

export const DEFAULT_WIRE: Manifest['wire'] = {
  encodings: [...ENCODINGS],
  granularities: [...GRANULARITIES],
  maxBatch: 256,
};

const SPEC_DTYPES: Partial<Record<number, TensorSpec['dtype']>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.INT64]: 'int64',
};

/** A TensorSpec for a value info; axis 0, when not static, is named 'batch' whatever the exporter called it. */
export function tensorSpec(v: ValueInfoProto): TensorSpec {
  const name = v.name ?? '';
  const dtype = SPEC_DTYPES[v.type?.tensorType?.elemType ?? 0];
  if (!dtype)
    throw new Error(`tensor ${name}: element type ${v.type?.tensorType?.elemType} is not float32 or int64`);
  const shape = shapeOf(v).map((d, axis) => {
    if (axis === 0 && typeof d !== 'number') return BATCH_DIM;
    if (d === null) throw new Error(`tensor ${name}: dimension ${axis} is unknown`);
    return d;
  });
  return { name, dtype, shape };
}

export function artifactOf(file: string, bytes: Uint8Array, model: ModelProto): Artifact {
  return {
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    parameters: parameterCount(graphOf(model)),
  };
}

export interface ManifestParts {
  modelId: string;
  source: string;
  /** The original, unsplit model. */
  model: ModelProto;
  head: Artifact;
  tail?: Artifact;
  full?: Artifact;
  cutId: string;
  /** The boundary tensor as declared in the head's outputs. */
  cut: ValueInfoProto;
  labels?: string[];
  preprocess?: Manifest['preprocess'];
  wire?: Partial<Manifest['wire']>;
  pipeline: PipelineSpec;
  weights?: WeightFormat;
  privacy?: Manifest['privacy'];
}

/** Assembles and validates a manifest; throws a ZodError if any part is out of contract. */
export function buildManifest(p: ManifestParts): Manifest {
  const graph = graphOf(p.model);
  const input = graph.input?.find((i) => !(graph.initializer ?? []).some((t) => t.name === i.name));
  const output = graph.output?.[0];
  if (!input || !output) throw new Error('model has no input or no output');
  return Manifest.parse({
    schema: 'splitflare.manifest/2',
    modelId: p.modelId,
    source: p.source,
    opset: opsetOf(p.model),
    input: tensorSpec(input),
    output: tensorSpec(output),
    cut: { id: p.cutId, tensor: tensorSpec(p.cut) },
    artifacts: { head: p.head, ...(p.tail ? { tail: p.tail } : {}), ...(p.full ? { full: p.full } : {}) },
    wire: { ...DEFAULT_WIRE, ...p.wire },
    pipeline: p.pipeline,
    weights: p.weights ?? { bits: 32 },
    ...(p.labels ? { labels: p.labels } : {}),
    ...(p.preprocess ? { preprocess: p.preprocess } : {}),
    ...(p.privacy ? { privacy: p.privacy } : {}),
  });
}
