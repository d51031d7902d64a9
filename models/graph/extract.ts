// Builds a standalone model from a subset of another model's nodes: carries
// over the initializers and shape annotations those nodes use and every
// model-level field (IR version, opset imports, functions, metadata).
import { graphOf } from '../onnx/model.js';
import { type ModelProto, type NodeProto, onnx, type ValueInfoProto } from '../onnx/proto.js';
import { toNumber } from '../onnx/tensor.js';

export interface SubgraphSpec {
  name: string;
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  docString?: string;
}

export function extractModel(base: ModelProto, spec: SubgraphSpec): ModelProto {
  const graph = graphOf(base);
  const used = new Set(spec.nodes.flatMap((n) => n.input ?? []));
  const produced = new Set(spec.nodes.flatMap((n) => n.output ?? []));
  const boundary = new Set([...spec.inputs, ...spec.outputs].map((v) => v.name));
  const initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  const kept = new Set(initializer.map((t) => t.name));
  // Before IR 4 every initializer also had to be listed as a graph input.
  const legacyInputs =
    toNumber(base.irVersion ?? 0) < 4 ? (graph.input ?? []).filter((i) => kept.has(i.name ?? '')) : [];
  const valueInfo = (graph.valueInfo ?? []).filter(
    (v) => produced.has(v.name ?? '') && !boundary.has(v.name),
  );
  return onnx.ModelProto.create({
    irVersion: base.irVersion,
    opsetImport: base.opsetImport,
    producerName: base.producerName,
    producerVersion: base.producerVersion,
    domain: base.domain,
    modelVersion: base.modelVersion,
    docString: base.docString,
    metadataProps: base.metadataProps,
    functions: base.functions,
    graph: onnx.GraphProto.create({
      name: spec.name,
      docString: spec.docString,
      node: spec.nodes,
      initializer,
      input: [...spec.inputs, ...legacyInputs],
      output: spec.outputs,
      valueInfo,
    }),
  });
}
