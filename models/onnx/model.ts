import { readFile, writeFile } from 'node:fs/promises';
import { type GraphProto, type ModelProto, type NodeProto, onnx, type ValueInfoProto } from './proto.js';
import { fromTensorProto, type HostTensor, toNumber } from './tensor.js';

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: ModelProto | onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model as onnx.IModelProto).finish();
}

export async function loadModel(path: string): Promise<ModelProto> {
  return decodeModel(await readFile(path));
}

export async function saveModel(path: string, model: ModelProto | onnx.IModelProto): Promise<Uint8Array> {
  const bytes = encodeModel(model);
  await writeFile(path, bytes);
  return bytes;
}

/** The default-domain opset version a model declares. */
export function opsetOf(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!entry) throw new Error('model declares no default-domain opset');
  return toNumber(entry.version);
}

export function graphOf(model: onnx.IModelProto): GraphProto {
  if (!model.graph) throw new Error('model has no graph');
  return model.graph;
}

/** Initializers by name, decoded. */
export function initializerMap(graph: GraphProto): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const t of graph.initializer ?? []) out.set(t.name ?? '', fromTensorProto(t));
  return out;
}

/** Graph inputs that are not initializers (ONNX IR < 4 lists initializers as inputs too). */
export function realInputs(graph: GraphProto): ValueInfoProto[] {
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name));
}

/** Map from tensor name to the node that produces it. */
export function producers(graph: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) m.set(o, n);
  return m;
}

/** Map from tensor name to the nodes that read it. */
export function consumers(graph: GraphProto): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  }
  return m;
}

/** Static dims of a value info; symbolic or unknown dims come back as their name or null. */
export function shapeOf(v: ValueInfoProto): Array<number | string | null> {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => {
    if (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0)
      return toNumber(d.dimValue);
    if (d.dimParam) return d.dimParam;
    return null;
  });
}

export function valueInfo(
  name: string,
  elemType: number,
  dims: Array<number | string | null>,
): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : d ? { dimParam: d } : {})),
        },
      },
    },
  });
}
