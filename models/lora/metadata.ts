// What injectLora did, recorded in the model itself (one metadata_props entry)
// so that whoever loads the model later (trainer, autodiff, merge, another
// injection) can tell trainable inputs from data inputs without a side file.
// Full-mode parameters keep their original names, so a naming convention alone
// could not identify them.
import type { ModelProto, onnx } from '../onnx/proto.js';
import type { WeightLayout } from './weight-use.js';

export const TRAINABLES_KEY = 'splitflare.trainables';

/**
 * How an adapter enters the graph (see inject.ts): `merge` adapts the weight
 * (the readers read W + scale·ΔW), `branch` adds scale·(x·Aᵀ)·Bᵀ to each
 * product's output and leaves the weight and its products as they were.
 */
export type LoraFormulation = 'merge' | 'branch';

interface AdapterRecord {
  /** The frozen base weight: an initializer, or the DequantizeLinear output standing for one. */
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
  /** Names of the nodes injectLora added for this adapter, so a merge can remove them. */
  nodes: string[];
}

export interface MergeRecord extends AdapterRecord {
  formulation: 'merge';
  /** The tensor W + scale·ΔW that the base weight's readers now read. */
  merged: string;
}

/** One MatMul that reads the base weight, with the update added to its output. */
export interface BranchProduct {
  /** The product's original output name, now written by the Add of product and update. */
  output: string;
  /** What the MatMul writes instead: the unadapted product. */
  frozen: string;
}

export interface BranchRecord extends AdapterRecord {
  formulation: 'branch';
  products: BranchProduct[];
}

export type LoraRecord = MergeRecord | BranchRecord;

export interface TrainablesRecord {
  version: 1;
  lora: LoraRecord[];
  /** Former initializers that are now graph inputs, trained directly. */
  full: string[];
}

export const emptyRecord = (): TrainablesRecord => ({ version: 1, lora: [], full: [] });

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

const isBranchProduct = (v: unknown): v is BranchProduct =>
  !!v &&
  typeof v === 'object' &&
  typeof (v as BranchProduct).output === 'string' &&
  typeof (v as BranchProduct).frozen === 'string';

/**
 * A valid record, with `formulation` filled in: records written before the
 * branch formulation existed have none and are merges.
 */
function asLoraRecord(v: unknown): LoraRecord | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  const common =
    ['base', 'a', 'b'].every((k) => typeof r[k] === 'string') &&
    ['rank', 'alpha', 'scale', 'inDim', 'outDim'].every((k) => typeof r[k] === 'number') &&
    (r.layout === 'in_out' || r.layout === 'out_in') &&
    isStringArray(r.nodes);
  if (!common) return undefined;
  const formulation = r.formulation ?? 'merge';
  if (formulation === 'merge' && typeof r.merged === 'string') return { ...r, formulation } as MergeRecord;
  if (formulation === 'branch' && Array.isArray(r.products) && r.products.every(isBranchProduct)) {
    return r as unknown as BranchRecord;
  }
  return undefined;
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
  const r = parsed as { version?: unknown; lora?: unknown; full?: unknown } | null;
  const lora = Array.isArray(r?.lora) ? r.lora.map(asLoraRecord) : [];
  if (r?.version !== 1 || !Array.isArray(r.lora) || !isStringArray(r.full) || lora.includes(undefined)) {
    throw new Error(`model metadata ${TRAINABLES_KEY} is malformed or of an unknown version`);
  }
  return { version: 1, lora: lora as LoraRecord[], full: r.full };
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
