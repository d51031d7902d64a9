// Resolves the caller's name patterns to concrete initializers, refusing
// anything ambiguous with a message that names the tensor and the reason.
import type { GraphProto, NodeProto, TensorProto } from '../onnx/proto.js';
import { DataType } from '../onnx/proto.js';
import { describePart, type NamePattern, partMatches, patternParts } from './patterns.js';
import { weightTensors } from './weight-tensors.js';
import { type WeightUse, weightUse } from './weight-use.js';

export interface LinearTarget {
  tensor: TensorProto;
  use: Extract<WeightUse, { ok: true }>;
}

/**
 * The weights LoRA adapts (see weight-tensors.ts: a quantized weight is named
 * by its DequantizeLinear output). A RegExp acts as a filter over the linear-layer
 * weights (so `/attn/` may also match biases, which are skipped); an exact
 * name must be an eligible weight. Every part of the pattern must select at
 * least one weight, and a weight that is used as a MatMul/Gemm weight but
 * cannot be adapted unambiguously is always an error, never silently skipped.
 */
export function selectLinearTargets(
  graph: GraphProto,
  pattern: NamePattern,
  consumers: ReadonlyMap<string, NodeProto[]>,
  alreadyAdapted: ReadonlySet<string> = new Set(),
): LinearTarget[] {
  const weights = weightTensors(graph, consumers);
  const chosen = new Set<TensorProto>();
  const uses = new Map<TensorProto, WeightUse>();
  const useOf = (t: TensorProto) => {
    const known = uses.get(t);
    if (known) return known;
    const u = weightUse(t, consumers);
    uses.set(t, u);
    return u;
  };
  for (const part of patternParts(pattern)) {
    const matched = weights.filter((t) => partMatches(part, t.name ?? ''));
    let selected = 0;
    for (const t of matched) {
      if (alreadyAdapted.has(t.name ?? '')) throw new Error(`${t.name} already has a LoRA adapter`);
      const use = useOf(t);
      if (use.ok) {
        chosen.add(t);
        selected++;
      } else if (part.kind === 'exact' || use.linear) {
        throw new Error(`cannot add LoRA to ${t.name}: ${use.reason}`);
      }
    }
    if (selected === 0) {
      const why =
        matched.length === 0
          ? 'no initializer name matches'
          : `it matches ${matched.length} initializer(s), none a MatMul/Gemm weight (e.g. ${matched[0].name})`;
      throw new Error(`LoRA target ${describePart(part)} selects no weight: ${why}`);
    }
  }
  return weights
    .filter((t) => chosen.has(t))
    .map((tensor) => ({ tensor, use: useOf(tensor) as LinearTarget['use'] }));
}

/** Initializers trained directly ("full" mode). Every part must match; every match must be float32. */
export function selectFullParams(graph: GraphProto, pattern: NamePattern): TensorProto[] {
  const inits = graph.initializer ?? [];
  const chosen = new Set<TensorProto>();
  for (const part of patternParts(pattern)) {
    const matched = inits.filter((t) => partMatches(part, t.name ?? ''));
    if (matched.length === 0)
      throw new Error(`full-mode pattern ${describePart(part)} matches no initializer`);
    for (const t of matched) {
      if (t.dataType !== DataType.FLOAT) {
        throw new Error(`full-mode parameter ${t.name} is not float32 (ONNX data type ${t.dataType})`);
      }
      chosen.add(t);
    }
  }
  return inits.filter((t) => chosen.has(t));
}
