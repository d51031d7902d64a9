// Folds trained adapter values back into a plain model: adapted weights become
// W + scale·ΔW initializers, full-mode parameters become initializers again,
// and the LoRA nodes and inputs disappear. This is what an inference artifact
// for a trained federation round is made from: no per-call adapter inputs and
// no per-call merge cost.
import { graphOf, realInputs } from '../onnx/model.js';
import { type ModelProto, onnx } from '../onnx/proto.js';
import { float32, fromTensorProto, type HostTensor, numel, toNumber, toTensorProto } from '../onnx/tensor.js';
import { mergedWeight } from './delta.js';
import { readTrainables, withTrainables } from './metadata.js';

export type TrainableValues = Readonly<Record<string, HostTensor | Float32Array>>;

function trainedValue(values: TrainableValues, name: string, dims: number[]): Float32Array {
  const v = values[name];
  if (v === undefined) throw new Error(`LoRA merge: no value for trainable input ${name}`);
  if (!(v instanceof Float32Array)) {
    if (v.dtype !== 'float32') throw new Error(`LoRA merge: ${name} is ${v.dtype}, expected float32`);
    if (v.dims.join(',') !== dims.join(',')) {
      throw new Error(`LoRA merge: ${name} has shape [${v.dims}], expected [${dims}]`);
    }
  }
  const data = v instanceof Float32Array ? v : (v.data as Float32Array);
  if (data.length !== numel(dims)) {
    throw new Error(`LoRA merge: ${name} has ${data.length} elements, expected ${numel(dims)} ([${dims}])`);
  }
  return data;
}

/**
 * A copy of `model` with the given trainable values baked in. Only adapters
 * whose inputs this model has are merged (after a split, each segment merges
 * its own); extra entries in `values` are ignored. Either formulation folds
 * into the same model. An adapter on a quantized weight keeps its nodes, with
 * A and B as initializers. `model` is not modified.
 */
export function mergeAdapters(model: ModelProto, values: TrainableValues): ModelProto {
  const graph = graphOf(model);
  const record = readTrainables(model);
  const present = new Set(realInputs(graph).map((i) => i.name ?? ''));
  const lora = record.lora.filter((r) => present.has(r.a) && present.has(r.b));
  const full = record.full.filter((n) => present.has(n));
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  // A base that is no initializer is a DequantizeLinear output: folding into
  // it would mean re-quantizing, so its adapter stays, A and B as constants.
  const folded = lora.filter((r) => initializers.has(r.base));
  const kept = lora.filter((r) => !initializers.has(r.base));
  const byBase = new Map(folded.map((r) => [r.base, r]));
  const dropNodes = new Set(folded.flatMap((r) => r.nodes));
  // Undoing either formulation's rewiring: merge readers read W again, branch
  // products write their own output names again.
  const renamed = new Map(
    folded.flatMap((r): [string, string][] =>
      r.formulation === 'merge' ? [[r.merged, r.base]] : r.products.map((p) => [p.frozen, p.output]),
    ),
  );
  const dropInputs = new Set([...lora.flatMap((r) => [r.a, r.b]), ...full]);
  const legacy = toNumber(model.irVersion ?? 0) < 4;

  const initializer = (graph.initializer ?? []).map((t) => {
    const r = byBase.get(t.name ?? '');
    if (!r) return t;
    const w = fromTensorProto(t);
    const a = trainedValue(values, r.a, [r.rank, r.inDim]);
    const b = trainedValue(values, r.b, [r.outDim, r.rank]);
    return toTensorProto(r.base, float32(w.dims, mergedWeight(w.data as Float32Array, a, b, r)));
  });
  const inputDims = new Map(
    (graph.input ?? []).map((i) => [
      i.name ?? '',
      (i.type?.tensorType?.shape?.dim ?? []).map((d) => toNumber(d.dimValue ?? 0)),
    ]),
  );
  for (const name of full) {
    const dims = inputDims.get(name) ?? [];
    initializer.push(toTensorProto(name, float32(dims, trainedValue(values, name, dims))));
  }
  for (const r of kept) {
    const dimsA = [r.rank, r.inDim];
    const dimsB = [r.outDim, r.rank];
    initializer.push(toTensorProto(r.a, float32(dimsA, trainedValue(values, r.a, dimsA))));
    initializer.push(toTensorProto(r.b, float32(dimsB, trainedValue(values, r.b, dimsB))));
  }
  const constants = new Set([...full, ...kept.flatMap((r) => [r.a, r.b])]);

  const node = (graph.node ?? [])
    .filter((n) => !dropNodes.has(n.name ?? ''))
    .map((n) => {
      const input = n.input ?? [];
      const output = n.output ?? [];
      return [...input, ...output].some((x) => renamed.has(x))
        ? onnx.NodeProto.create({
            ...n,
            input: input.map((x) => renamed.get(x) ?? x),
            output: output.map((x) => renamed.get(x) ?? x),
          })
        : n;
    });
  // Before IR 4 an initializer must stay listed among the graph inputs.
  const input = (graph.input ?? []).filter(
    (i) => !dropInputs.has(i.name ?? '') || (legacy && constants.has(i.name ?? '')),
  );

  const mergedSet = new Set(lora.map((r) => r.base));
  const fullSet = new Set(full);
  return onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({ ...graph, node, input, initializer }),
    metadataProps: withTrainables(model, {
      version: 1,
      lora: record.lora.filter((r) => !mergedSet.has(r.base)),
      full: record.full.filter((n) => !fullSet.has(n)),
    }),
  });
}
