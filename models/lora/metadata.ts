// What injectLora did, recorded in the model itself (one metadata_props entry)
// so that whoever loads the model later (trainer, autodiff, merge, another
// injection) can tell trainable inputs from data inputs without a side file.
// Full-mode parameters keep their original names, so a naming convention alone
// could not identify them.
import type { ModelProto, onnx } from '../onnx/proto.js';
import type { WeightLayout } from './weight-use.js';

export const TRAINABLES_KEY = 'splitflare.trainables';

export interface LoraRecord {
  /** The frozen base weight (an initializer). */
  base: string;
  /** Graph inputs holding A [rank, in] and B [out, rank]. */
  a: string;
  b: string;
  rank: number;
  alpha: number;
  /** alpha / rank: the factor applied to B·A. */
  scale: number;
  layout: WeightLayout;
  inDim: number;
  outDim: number;
  /** The tensor W + scale·ΔW that the base weight's consumers now read. */
  merged: string;
  /** Names of the nodes that compute `merged`, so a merge can remove them. */
  nodes: string[];
}

export interface TrainablesRecord {
  version: 1;
  lora: LoraRecord[];
  /** Former initializers that are now graph inputs, trained directly. */
  full: string[];
}

export const emptyRecord = (): TrainablesRecord => ({ version: 1, lora: [], full: [] });

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

function isLoraRecord(v: unknown): v is LoraRecord {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return (
    ['base', 'a', 'b', 'merged'].every((k) => typeof r[k] === 'string') &&
    ['rank', 'alpha', 'scale', 'inDim', 'outDim'].every((k) => typeof r[k] === 'number') &&
    (r.layout === 'in_out' || r.layout === 'out_in') &&
    isStringArray(r.nodes)
  );
}

/** The record stored in `model`, or an empty one if it has none. */
export function readTrainables(model: onnx.IModelProto): TrainablesRecord {
  const entry = (model.metadataProps ?? []).find((p) => p.key === TRAINABLES_KEY);
  if (!entry) return emptyRecord();
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.value ?? '');
  } catch {
    throw new Error(`model metadata ${TRAINABLES_KEY} is not valid JSON`);
  }
  const r = parsed as Partial<TrainablesRecord> | null;
  if (r?.version !== 1 || !Array.isArray(r.lora) || !r.lora.every(isLoraRecord) || !isStringArray(r.full)) {
    throw new Error(`model metadata ${TRAINABLES_KEY} is malformed or of an unknown version`);
  }
  return { version: 1, lora: r.lora, full: r.full };
}

/** metadata_props of `model` with the record replaced (or removed when it is empty). */
export function withTrainables(
  model: ModelProto | onnx.IModelProto,
  record: TrainablesRecord,
): onnx.IStringStringEntryProto[] {
  const rest = (model.metadataProps ?? []).filter((p) => p.key !== TRAINABLES_KEY);
  if (record.lora.length === 0 && record.full.length === 0) return rest;
  return [...rest, { key: TRAINABLES_KEY, value: JSON.stringify(record) }];
}
