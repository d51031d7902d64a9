// Composite operators recognised in the forward graph and differentiated as a
// unit. Exporters below opset 20 spell exact GELU as five elementwise nodes;
// chaining the five per-op gradients costs nine passes over the (widest)
// hidden activation where the closed form needs six. The forward graph is
// never rewritten: only the reverse sweep sees one node in place of five.
import { type HostTensor, type NodeProto, onnx } from '../onnx/index.js';

/** Op type of the composite GELU node; the same as ONNX's own Gelu (opset 20, approximate "none"). */
export const GELU = 'Gelu';

const SQRT2 = Math.SQRT2;

interface Lookup {
  /** The node producing a tensor. */
  producer(name: string): NodeProto | undefined;
  /** How many nodes read a tensor, plus one if it is a graph output. */
  uses(name: string): number;
  /** A tensor's value when it is a compile-time constant. */
  constant(name: string): HostTensor | undefined;
}

/**
 * Replaces every recognised GELU chain in `nodes` (topologically ordered) by
 * one Gelu node whose outputs are [y, x / sqrt 2, 1 + erf(x / sqrt 2)]: the
 * result, then the two intermediates its gradient reads. The chain's inner
 * tensors must feed nothing outside it, or their other gradients would be lost.
 */
export function foldComposites(nodes: readonly NodeProto[], lookup: Lookup): NodeProto[] {
  const replaced = new Map<NodeProto, NodeProto | null>();
  for (const node of nodes) {
    const match = matchGelu(node, lookup);
    if (!match || match.chain.some((n) => replaced.has(n))) continue;
    for (const n of match.chain) replaced.set(n, null);
    replaced.set(node, match.gelu);
  }
  const out: NodeProto[] = [];
  for (const n of nodes) {
    const r = replaced.get(n);
    if (r === undefined) out.push(n);
    else if (r) out.push(r);
  }
  return out;
}

interface GeluMatch {
  gelu: NodeProto;
  /** The chain's nodes other than the final Mul. */
  chain: NodeProto[];
}

/**
 * Matches y = (x * (1 + erf(x / sqrt 2))) * 0.5 or (x * 0.5) * (1 + erf(x / sqrt 2)),
 * with x / sqrt 2 also accepted as x * (1 / sqrt 2), operands of the commutative
 * ops in either order, ending at `last`.
 */
function matchGelu(last: NodeProto, l: Lookup): GeluMatch | undefined {
  if (last.opType !== 'Mul' || (last.input?.length ?? 0) !== 2) return undefined;
  const only = (name: string) => l.uses(name) === 1;
  const [p, q] = last.input as [string, string];
  for (const [inner, other] of [
    [p, q],
    [q, p],
  ] as const) {
    const mul = l.producer(inner);
    if (mul?.opType !== 'Mul' || !only(inner)) continue;
    const [m0, m1] = mul.input as [string, string];
    // Form 1: (x * A) * 0.5
    if (isScalar(l, other, 0.5)) {
      for (const [x, a] of [
        [m0, m1],
        [m1, m0],
      ] as const) {
        const erf = matchOnePlusErf(l, a, x);
        if (erf) return build(last, x, erf.u, a, [mul, ...erf.chain]);
      }
    }
    // Form 2: (x * 0.5) * A
    for (const [x, half] of [
      [m0, m1],
      [m1, m0],
    ] as const) {
      if (!isScalar(l, half, 0.5)) continue;
      const erf = matchOnePlusErf(l, other, x);
      if (erf) return build(last, x, erf.u, other, [mul, ...erf.chain]);
    }
  }
  return undefined;
}

/** a = 1 + erf(u) with u = x / sqrt 2, every intermediate used once. */
function matchOnePlusErf(l: Lookup, a: string, x: string): { u: string; chain: NodeProto[] } | undefined {
  const add = l.producer(a);
  if (add?.opType !== 'Add' || l.uses(a) !== 1) return undefined;
  const [s0, s1] = add.input as [string, string];
  const e = isScalar(l, s1, 1) ? s0 : isScalar(l, s0, 1) ? s1 : undefined;
  const erf = e ? l.producer(e) : undefined;
  if (!e || erf?.opType !== 'Erf' || l.uses(e) !== 1) return undefined;
  const u = erf.input?.[0] ?? '';
  const scale = l.producer(u);
  if (!scale || l.uses(u) !== 1) return undefined;
  const [v0, v1] = (scale.input ?? []) as [string?, string?];
  const ok =
    (scale.opType === 'Div' && v0 === x && isScalar(l, v1 ?? '', SQRT2)) ||
    (scale.opType === 'Mul' &&
      ((v0 === x && isScalar(l, v1 ?? '', 1 / SQRT2)) || (v1 === x && isScalar(l, v0 ?? '', 1 / SQRT2))));
  return ok ? { u, chain: [add, erf, scale] } : undefined;
}

function build(last: NodeProto, x: string, u: string, a: string, chain: NodeProto[]): GeluMatch {
  const gelu = onnx.NodeProto.create({
    opType: GELU,
    name: last.name || last.output?.[0] || 'gelu',
    input: [x],
    output: [last.output![0], u, a],
  });
  return { gelu, chain };
}

/** Whether a tensor is a constant scalar (any rank, one element) equal to v in float32. */
function isScalar(l: Lookup, name: string, v: number): boolean {
  const c = l.constant(name);
  if (c?.data.length !== 1 || c.dtype !== 'float32') return false;
  return Math.abs(Number(c.data[0]) - v) <= 1e-6 * Math.max(1, Math.abs(v));
}
