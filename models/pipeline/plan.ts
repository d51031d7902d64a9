// Decides how many shards a tail needs and which encoder blocks each runs.
//
// A shard's isolate holds onnxruntime's WebAssembly heap, which only grows:
// its peak is what counts against the 128 MB isolate limit. The estimate
// follows how onnxruntime-web 1.30 uses that heap, fitted to measurements of
// ViT-B/16 shards (bench/shard-memory.ts; BENCHMARKS.md "shard memory"):
// while a session is created the model bytes, the parsed initializers and the
// kernels' packed copies coexist, so a graph's bytes count about three times;
// a training shard holds two sessions, and its backward graph holds each
// quantized weight twice (the fused product and the transposed gradient
// product); a run's live activations are a share of all the intermediate
// tensors, scaled by the micro-batch. JavaScript holds the graph being loaded,
// the adapters, their optimizer state and the input kept between passes. The
// bench measures the real peaks inside workerd and checks them against 128 MB.
import { type InfoMap, inferGraph, infoFromValueInfo, isFloatType } from '../autodiff/infer.js';
import { graphOf, opsetOf, realInputs } from '../onnx/model.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { toNumber } from '../onnx/tensor.js';
import { locateBlocks } from '../split/blocks.js';

const MiB = 2 ** 20;

/** The fitted constants of the estimate. */
export const COST_MODEL = {
  /** onnxruntime-web's heap with no model loaded (an identity model: 16 MB). */
  runtimeMiB: 16,
  /** Adapters, optimizer state and the input kept between passes, beside the graph being loaded. */
  jsMarginMiB: 4,
  /**
   * Bytes of heap per byte of graph at the creation peak of its sessions, by
   * the frozen weights' bits (model bytes, parsed initializers, the kernels'
   * packed weights; MatMulNBits packs int4 into a wider layout).
   */
  graphCopies: { 4: 3, 8: 2.1, 32: 2.9 },
  /** Backward graph bytes per forward graph byte: quantized weights are stored twice, fp32 ones once. */
  backwardGraphRatio: { 4: 2, 8: 2, 32: 1 },
  /** Live activations of a forward run, as a share of the sum of every intermediate tensor. */
  forwardActivationShare: 0.35,
  /** Live activations of a backward run (the forward recomputed, its saved tensors kept). */
  backwardActivationShare: 0.45,
} as const;

export interface BlockCost {
  /** Block index in the whole model; -1 for what follows the last block. */
  index: number;
  weightBytes: number;
  /** Bytes of every float tensor the block's nodes produce, per sample. */
  activationBytesPerSample: number;
}

export interface PlanOptions {
  /** Per-isolate budget (MiB). */
  budgetMiB: number;
  /** Samples per onnxruntime run. */
  microBatch: number;
  /** Plan for training (two sessions, backward activations) as well as inference. */
  training: boolean;
  /** Bytes per weight element once stored (4 for fp32, ~0.625 for int4 at block 32). */
  bytesPerWeight?: (elements: number, tensor: string) => number;
  /** Bits of the frozen weights (default 32). */
  bits?: 4 | 8 | 32;
  /** Force this many shards (blocks split as evenly as possible) instead of planning by budget. */
  shards?: number;
}

export interface ShardPlan {
  groups: number[][];
  /** Planned peak per shard (MiB), same order. */
  plannedMiB: number[];
}

const BYTES: Partial<Record<number, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.FLOAT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
};

/** Evaluates a dim ("batch", "2*batch", 197) at batch = 1; unknown dims count as 1. */
function perSample(dim: number | string | null): number {
  if (typeof dim === 'number') return dim;
  if (dim === null) return 1;
  return dim
    .split('*')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : 1))
    .reduce((a, b) => a * b, 1);
}

function outputBytes(nodes: NodeProto[], infos: InfoMap): number {
  let total = 0;
  for (const n of nodes) {
    for (const o of n.output ?? []) {
      const info = infos.get(o);
      if (!o || !info?.dims || !isFloatType(info.elemType)) continue;
      total += info.dims.reduce<number>((a, d) => a * perSample(d), 1) * (BYTES[info.elemType ?? 0] ?? 4);
    }
  }
  return total;
}

function weightBytes(
  graph: GraphProto,
  nodes: NodeProto[],
  bytesPerWeight: NonNullable<PlanOptions['bytesPerWeight']>,
): number {
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  let total = 0;
  for (const t of graph.initializer ?? []) {
    if (!used.has(t.name ?? '')) continue;
    const elements = (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
    total +=
      t.dataType === DataType.FLOAT
        ? bytesPerWeight(elements, t.name ?? '')
        : (t.rawData?.length ?? elements * (BYTES[t.dataType ?? 0] ?? 4));
  }
  return total;
}

/** Weight and per-sample activation bytes of each encoder block of a tail, then of what follows them. */
export function blockCosts(tail: ModelProto, bytesPerWeight: PlanOptions['bytesPerWeight']): BlockCost[] {
  const graph = graphOf(tail);
  // A tail without recognisable blocks is one shard: everything is "what follows the blocks".
  const blocks = locateBlocks(graph);
  const seed: InfoMap = new Map(realInputs(graph).map((v) => [v.name ?? '', infoFromValueInfo(v)]));
  for (const t of graph.initializer ?? []) {
    seed.set(t.name ?? '', { elemType: t.dataType ?? undefined, dims: (t.dims ?? []).map(toNumber) });
  }
  const infos = inferGraph(graph, opsetOf(tail), seed);
  const perWeight = bytesPerWeight ?? ((n: number) => 4 * n);
  const inBlock = new Set(blocks.flatMap((b) => b.nodes));
  const rest = (graph.node ?? []).filter((n) => !inBlock.has(n));
  return [
    ...blocks.map((b) => ({
      index: b.index,
      weightBytes: weightBytes(graph, b.nodes, perWeight),
      activationBytesPerSample: outputBytes(b.nodes, infos),
    })),
    {
      index: -1,
      weightBytes: weightBytes(graph, rest, perWeight),
      activationBytesPerSample: outputBytes(rest, infos),
    },
  ];
}

/** Planned peak (MiB) of an isolate running these blocks. */
export function plannedMiB(
  costs: readonly BlockCost[],
  o: Pick<PlanOptions, 'microBatch' | 'training' | 'bits'>,
): number {
  const c = COST_MODEL;
  const bits = o.bits ?? 32;
  const weights = costs.reduce((a, x) => a + x.weightBytes, 0);
  const activations = costs.reduce((a, x) => a + x.activationBytesPerSample, 0) * o.microBatch;
  const backward = o.training ? c.backwardGraphRatio[bits] * weights : 0;
  const graphs = weights + backward;
  const share = o.training ? c.backwardActivationShare : c.forwardActivationShare;
  const heldWhileLoading = Math.max(weights, backward);
  return (
    c.runtimeMiB +
    c.jsMarginMiB +
    (heldWhileLoading + c.graphCopies[bits] * graphs + share * activations) / MiB
  );
}

/**
 * Groups consecutive blocks into shards: as few as fit the budget (greedy,
 * which is optimal for consecutive runs under one capacity), or exactly
 * `shards` of them. The trailing part (final norm, classifier) rides with the
 * last shard. Throws when a single block does not fit.
 */
export function planShards(costs: readonly BlockCost[], o: PlanOptions): ShardPlan {
  const blocks = costs.filter((c) => c.index >= 0);
  const trailing = costs.filter((c) => c.index < 0);
  const costOf = (group: number[], last: boolean) =>
    plannedMiB([...blocks.filter((b) => group.includes(b.index)), ...(last ? trailing : [])], o);
  let groups: number[][];
  if (blocks.length === 0) {
    if (o.shards !== undefined && o.shards !== 1) {
      throw new Error(`cannot make ${o.shards} shards of a tail with no recognisable encoder blocks`);
    }
    groups = [[]];
  } else if (o.shards !== undefined) {
    if (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > blocks.length) {
      throw new Error(`cannot make ${o.shards} shards of a tail with ${blocks.length} blocks`);
    }
    groups = [];
    for (let s = 0, at = 0; s < o.shards; s++) {
      const size = Math.floor(blocks.length / o.shards) + (s < blocks.length % o.shards ? 1 : 0);
      groups.push(blocks.slice(at, at + size).map((b) => b.index));
      at += size;
    }
  } else {
    groups = [];
    let current: number[] = [];
    for (const [i, b] of blocks.entries()) {
      const isLast = i === blocks.length - 1;
      const candidate = [...current, b.index];
      if (costOf(candidate, isLast) <= o.budgetMiB) {
        current = candidate;
        continue;
      }
      if (current.length === 0 || costOf([b.index], isLast) > o.budgetMiB) {
        throw new Error(
          `block ${b.index} alone needs ${costOf([b.index], isLast).toFixed(0)} MiB, over the ` +
            `${o.budgetMiB} MiB budget: lower the micro-batch or quantize the weights`,
        );
      }
      groups.push(current);
      current = [b.index];
    }
    groups.push(current);
  }
  return { groups, plannedMiB: groups.map((g, i) => costOf(g, i === groups.length - 1)) };
}
