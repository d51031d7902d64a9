// Where the branch formulation can run: the MatMul products that read a
// weight as their right operand, x·W directly or x·Wᵀ through a 2-D Transpose
// (torch Linear). Every reader must be one of them, since the branch changes
// the products' outputs and not the weight: any other reader (a Gemm, an
// element-wise op) would keep seeing the unadapted W.
import type { NodeProto } from '../onnx/proto.js';
import { isMatrixTranspose } from './weight-use.js';

const isDefaultDomain = (n: NodeProto) => !n.domain || n.domain === 'ai.onnx';

/** MatMul(x, `name`) with x another tensor. */
function isRightOperand(node: NodeProto, name: string): boolean {
  const [x, w] = node.input ?? [];
  return node.opType === 'MatMul' && isDefaultDomain(node) && w === name && x !== name;
}

/** The MatMuls reading `name` (or its 2-D transpose) as their weight, or why the branch cannot be used. */
export function branchProducts(
  name: string,
  consumers: ReadonlyMap<string, NodeProto[]>,
): { ok: true; products: NodeProto[] } | { ok: false; reason: string } {
  const products: NodeProto[] = [];
  const others: string[] = [];
  for (const reader of consumers.get(name) ?? []) {
    if (isRightOperand(reader, name)) {
      products.push(reader);
      continue;
    }
    const t = reader.output?.[0] ?? '';
    const next = consumers.get(t) ?? [];
    if (isMatrixTranspose(reader) && isDefaultDomain(reader) && next.length > 0) {
      const bad = next.filter((n) => !isRightOperand(n, t));
      products.push(...next.filter((n) => isRightOperand(n, t)));
      others.push(...bad.map((n) => `${n.opType} ${n.name ?? ''}`.trim()));
      continue;
    }
    others.push(`${reader.opType} ${reader.name ?? ''}`.trim());
  }
  if (others.length > 0)
    return { ok: false, reason: `it is read by ${others.join(', ')}, not only by MatMul` };
  if (products.length === 0) return { ok: false, reason: 'no MatMul reads it' };
  return { ok: true, products: [...new Set(products)] };
}
