// Raising a model to opset 21, the first opset whose DequantizeLinear takes
// int4 codes and a block_size.
//
// Between opset 13 and 21 most operators only gained types, or attributes
// whose defaults keep the old behaviour (Reshape allowzero, Shape start/end,
// Pad/Resize extras, Cast saturate, ...). The ones that changed their
// signature or meaning are rewritten here:
// - opset 18: Reduce{Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare}
//   take `axes` as an input instead of an attribute; Split without a `split`
//   input must state `num_outputs`.
// - opset 16: RoiAlign's default coordinate_transformation_mode changed, so
//   the old default is written out.
// - opset 20: GridSample renamed its modes (bilinear -> linear, bicubic -> cubic).
// Operators whose change is not a rewrite of one node are refused: DFT
// (axis became an input at 20, with a new onesided layout) and
// GroupNormalization (scale and bias became per channel at 21). ReduceSum
// moved its axes to an input already at 13. Below opset 13, Softmax,
// Squeeze, Unsqueeze, Split and ReduceSum differ too: re-export instead.
import {
  attr,
  attrInts,
  attrString,
  type GraphProto,
  hasAttr,
  int64,
  type ModelProto,
  type NodeProto,
  type onnx,
  opsetOf,
  toNumber,
  toTensorProto,
} from '../onnx/index.js';

export const QUANTIZED_OPSET = 21;
/** IR version 10 (ONNX 1.16) introduced the int4 element type. */
export const QUANTIZED_IR_VERSION = 10;
const MIN_SOURCE_OPSET = 13;

const REDUCE_AXES_TO_INPUT = new Set([
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** Ops refused below the opset where they changed, with why. */
const REFUSED: Record<string, { since: number; why: string }> = {
  DFT: { since: 20, why: 'its axis became an input at opset 20' },
  GroupNormalization: { since: 21, why: 'its scale and bias became per-channel at opset 21' },
};

export interface OpsetUpgrade {
  from: number;
  to: number;
  /** Rewritten nodes per op type. */
  converted: Record<string, number>;
}

function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/** Raises the default-domain opset to `target` (at least 21), rewriting nodes that need it. Mutates the model. */
export function raiseOpset(model: ModelProto, target = QUANTIZED_OPSET): OpsetUpgrade {
  const from = opsetOf(model);
  const converted: Record<string, number> = {};
  if (toNumber(model.irVersion ?? 0) < QUANTIZED_IR_VERSION) model.irVersion = QUANTIZED_IR_VERSION;
  if (from >= target) return { from, to: from, converted };
  if (from < MIN_SOURCE_OPSET) {
    throw new Error(
      `model uses opset ${from}; raising it to ${target} needs opset ${MIN_SOURCE_OPSET} or later (re-export with opset_version >= 14)`,
    );
  }
  const root = model.graph as GraphProto;
  const taken = new Set<string>();
  const collect = (g: onnx.IGraphProto) => {
    for (const t of g.initializer ?? []) taken.add(t.name ?? '');
    for (const i of g.input ?? []) taken.add(i.name ?? '');
    for (const n of g.node ?? []) {
      for (const o of n.output ?? []) taken.add(o);
      subgraphs(n).forEach(collect);
    }
  };
  collect(root);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const count = (op: string) => {
    converted[op] = (converted[op] ?? 0) + 1;
  };

  const visit = (g: onnx.IGraphProto) => {
    for (const node of g.node ?? []) {
      subgraphs(node).forEach(visit);
      if (!isDefaultDomain(node.domain)) continue;
      const op = node.opType ?? '';
      const refused = Object.hasOwn(REFUSED, op) ? REFUSED[op] : undefined;
      if (refused && from < refused.since) {
        throw new Error(
          `cannot raise opset ${from} to ${target}: ${op} node '${node.name}' cannot be upgraded (${refused.why}); re-export the model at opset ${target}`,
        );
      }
      if (from < 18 && REDUCE_AXES_TO_INPUT.has(op) && hasAttr(node, 'axes')) {
        const axes = attrInts(node, 'axes');
        // Outer-scope initializers are visible inside subgraphs, so the root holds them all.
        const name = fresh(`${node.name || node.output?.[0] || op}.axes`);
        root.initializer = [...(root.initializer ?? []), toTensorProto(name, int64([axes.length], axes))];
        node.attribute = (node.attribute ?? []).filter((a) => a.name !== 'axes');
        node.input = [node.input?.[0] ?? '', name];
        count(op);
      } else if (from < 18 && op === 'Split' && !node.input?.[1] && !hasAttr(node, 'num_outputs')) {
        node.attribute = [...(node.attribute ?? []), attr('num_outputs', (node.output ?? []).length)];
        count(op);
      } else if (from < 16 && op === 'RoiAlign' && !hasAttr(node, 'coordinate_transformation_mode')) {
        node.attribute = [
          ...(node.attribute ?? []),
          attr('coordinate_transformation_mode', 'output_half_pixel'),
        ];
        count(op);
      } else if (from < 20 && op === 'GridSample') {
        const mode = attrString(node, 'mode', 'bilinear');
        const renamed = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : mode;
        node.attribute = [...(node.attribute ?? []).filter((a) => a.name !== 'mode'), attr('mode', renamed)];
        count(op);
      }
    }
  };
  visit(root);
  model.opsetImport = [
    ...(model.opsetImport ?? []).filter((o) => !isDefaultDomain(o.domain)),
    { domain: '', version: target },
  ];
  return { from, to: target, converted };
}

function subgraphs(node: NodeProto): onnx.IGraphProto[] {
  return (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}
