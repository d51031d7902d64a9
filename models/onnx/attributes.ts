import { AttributeType, type NodeProto, onnx } from './proto.js';
import { fromTensorProto, type HostTensor, toNumber } from './tensor.js';

function find(node: NodeProto, name: string) {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback?: number): number {
  const a = find(node, name);
  if (!a) {
    if (fallback === undefined) throw new Error(`${node.opType} ${node.name}: missing attribute ${name}`);
    return fallback;
  }
  return toNumber(a.i ?? 0);
}

export function attrFloat(node: NodeProto, name: string, fallback?: number): number {
  const a = find(node, name);
  if (!a) {
    if (fallback === undefined) throw new Error(`${node.opType} ${node.name}: missing attribute ${name}`);
    return fallback;
  }
  return a.f ?? 0;
}

export function attrInts(node: NodeProto, name: string, fallback?: number[]): number[] {
  const a = find(node, name);
  if (!a) {
    if (fallback === undefined) throw new Error(`${node.opType} ${node.name}: missing attribute ${name}`);
    return fallback;
  }
  return (a.ints ?? []).map(toNumber);
}

export function attrString(node: NodeProto, name: string, fallback?: string): string {
  const a = find(node, name);
  if (!a?.s) {
    if (fallback === undefined) throw new Error(`${node.opType} ${node.name}: missing attribute ${name}`);
    return fallback;
  }
  return new TextDecoder().decode(a.s);
}

export function attrTensor(node: NodeProto, name: string): HostTensor | undefined {
  const a = find(node, name);
  return a?.t ? fromTensorProto(a.t) : undefined;
}

export function hasAttr(node: NodeProto, name: string): boolean {
  return find(node, name) !== undefined;
}

type AttrValue = number | number[] | string | onnx.ITensorProto | { float: number } | { floats: number[] };

/** Builds an AttributeProto; integers are INT/INTS, use {float}/{floats} to force floats. */
export function attr(name: string, value: AttrValue): onnx.AttributeProto {
  if (typeof value === 'number') {
    return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  }
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({
      name,
      type: AttributeType.STRING,
      s: new TextEncoder().encode(value),
    });
  }
  if (Array.isArray(value))
    return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  if ('float' in value)
    return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
  if ('floats' in value)
    return onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: value.floats });
  return onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t: value as onnx.ITensorProto });
}
