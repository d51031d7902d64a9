// The trainables of a ViT found from the graph's structure rather than from
// tensor names, so exports whose naming we have never seen (torchvision,
// timm, Hugging Face) get the same recipe as the reference model: LoRA on every
// linear layer inside an encoder block, the patch embedding and the classifier
// trained in full. Names differ between exporters; "a MatMul weight inside
// block k" and "the Conv before the first block" do not.
import { backwardSlice, forwardClosure } from '../graph/analysis.js';
import { consumers as consumersOf, producers as producersOf } from '../onnx/model.js';
import { DataType, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { toNumber } from '../onnx/tensor.js';
import { type Block, locateBlocks } from '../split/blocks.js';
import { weightTensors } from './weight-tensors.js';
import { weightUse } from './weight-use.js';

export interface StructuralTrainables {
  /** LoRA targets: every float matrix a MatMul/Gemm inside an encoder block reads as its weight. */
  targets: string[];
  /** Full-mode parameters: the patch-embedding Conv's weight and bias, the classifier's weight and bias. */
  full: string[];
}

const isLinear = (n: NodeProto) => n.opType === 'MatMul' || n.opType === 'Gemm';

const isFloat = (t: TensorProto) => t.dataType === DataType.FLOAT;
const isFloatMatrix = (t: TensorProto) => isFloat(t) && (t.dims ?? []).map(toNumber).length === 2;

interface Context {
  graph: GraphProto;
  blocks: Block[];
  uses: Map<string, NodeProto[]>;
  /** Float initializers, trainable in full. */
  inits: Map<string, TensorProto>;
  /** Every stored weight by the name its readers use (weight-tensors.ts). */
  weights: Map<string, TensorProto>;
  producers: Map<string, NodeProto>;
}

/** The stored weight a MatMul/Gemm reads as its right operand, directly or through a Transpose. */
function weightOf(node: NodeProto, { weights, producers }: Context): TensorProto | undefined {
  const operand = node.input?.[1] ?? '';
  const direct = weights.get(operand);
  if (direct) return direct;
  const p = producers.get(operand);
  return p?.opType === 'Transpose' ? weights.get(p.input?.[0] ?? '') : undefined;
}

function targetsOf(ctx: Context): string[] {
  const picked = new Set(ctx.blocks.flatMap((b) => b.nodes.filter(isLinear).map((n) => weightOf(n, ctx))));
  const targets: string[] = [];
  for (const t of ctx.weights.values()) {
    if (!picked.has(t) || !isFloatMatrix(t)) continue;
    const use = weightUse(t, ctx.uses);
    if (!use.ok) {
      throw new Error(`cannot add LoRA to ${t.name}, a linear weight of an encoder block: ${use.reason}`);
    }
    targets.push(t.name ?? '');
  }
  return targets;
}

/** Weight and bias of the Conv(s) computing the first block's input: the patch embedding. */
function patchEmbedding({ graph, blocks, inits }: Context): TensorProto[] {
  const before = backwardSlice(graph, [blocks[0].input], new Set());
  return before
    .filter((n) => n.opType === 'Conv')
    .flatMap((n) => (n.input ?? []).slice(1, 3))
    .map((name) => inits.get(name))
    .filter((t): t is TensorProto => t !== undefined);
}

/** Weight and bias of the last linear layer after the blocks: the classifier. */
function classifier(ctx: Context): TensorProto[] {
  const { graph, blocks, inits, uses } = ctx;
  const reached = forwardClosure(graph, blocks[blocks.length - 1].output);
  const after = (graph.node ?? []).filter((n) => isLinear(n) && reached.has(n.input?.[0] ?? ''));
  const last = after[after.length - 1];
  if (!last) return []; // a backbone without a head
  const weight = inits.get(weightOf(last, ctx)?.name ?? '');
  if (!weight) return []; // quantized: it cannot be trained in full
  const out = last.output?.[0] ?? '';
  const biasName =
    last.opType === 'Gemm'
      ? last.input?.[2]
      : (uses.get(out) ?? [])
          .filter((n) => n.opType === 'Add')
          .flatMap((n) => (n.input ?? []).filter((i) => i !== out))
          .find((i) => inits.has(i));
  const bias = inits.get(biasName ?? '');
  return bias ? [weight, bias] : [weight];
}

/**
 * The structural recipe's tensors, each list in initializer order. Throws if
 * the graph has no recognisable encoder blocks: then there is no structure to
 * go by, and the caller must name the tensors.
 */
export function structuralTrainables(graph: GraphProto): StructuralTrainables {
  const blocks = locateBlocks(graph);
  if (blocks.length === 0) {
    throw new Error(
      'found no encoder blocks (node-name scopes like /blocks/<k>/ or /encoder_layer_<k>/) to choose ' +
        'trainables by structure: name them with explicit patterns',
    );
  }
  const uses = consumersOf(graph);
  const ctx: Context = {
    graph,
    blocks,
    uses,
    inits: new Map((graph.initializer ?? []).filter(isFloat).map((t) => [t.name ?? '', t])),
    weights: new Map(weightTensors(graph, uses).map((t) => [t.name ?? '', t])),
    producers: producersOf(graph),
  };
  const full = new Set([...patchEmbedding(ctx), ...classifier(ctx)]);
  return {
    targets: targetsOf(ctx),
    full: (graph.initializer ?? []).filter((t) => full.has(t)).map((t) => t.name ?? ''),
  };
}
