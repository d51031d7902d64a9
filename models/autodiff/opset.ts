// Backward graphs target opset 17 or later (LayerNormalization exists from 17,
// and every op the rules emit has its final pre-18 form by then).
//
// Upgrading the forward part of a 13-16 model to 17 is safe for every
// default-domain op except one: between 13 and 17 the other changes only add
// types (Add/Sub/Mul/Div/Relu/Where/Pow/Identity/...), add attributes whose
// defaults keep the old behaviour (Reshape allowzero, Shape start/end,
// ScatterElements/ScatterND reduction, BatchNormalization training_mode,
// GRU/LSTM/RNN layout) or add new ops. RoiAlign-16 changed the default
// coordinate_transformation_mode, so the old default is written out explicitly.
// Below 13, Softmax, ReduceSum, Split, Squeeze and Unsqueeze changed meaning
// or signature; such models must be re-exported. Sources at 18 or later (such
// as quantized-weight graphs at 21, models/quantize) keep their opset; the
// emitter then writes ReduceMean axes as an input, and every other op the
// rules emit has the same signature from 17 to 21.
import { attr, type GraphProto, type ModelProto, opsetOf } from '../onnx/index.js';

export const TARGET_OPSET = 17;
export const MIN_SOURCE_OPSET = 13;

export function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/** Validates the model's opsets, rewrites them to the target and returns it. Mutates the model. */
export function upgradeOpset(model: ModelProto): number {
  const graph = model.graph as GraphProto;
  const source = opsetOf(model);
  if (source < MIN_SOURCE_OPSET) {
    throw new Error(
      `model uses opset ${source}; differentiation needs opset ${MIN_SOURCE_OPSET} or later (re-export with opset_version >= 14)`,
    );
  }
  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain)) {
      throw new Error(
        `${node.opType} node '${node.name}' is in domain '${node.domain}'; only default-domain ONNX ops are supported`,
      );
    }
  }
  const target = Math.max(source, TARGET_OPSET);
  if (source < 16) {
    for (const node of graph.node ?? []) {
      if (
        node.opType === 'RoiAlign' &&
        !(node.attribute ?? []).some((a) => a.name === 'coordinate_transformation_mode')
      ) {
        node.attribute = [
          ...(node.attribute ?? []),
          attr('coordinate_transformation_mode', 'output_half_pixel'),
        ];
      }
    }
  }
  model.opsetImport = [{ domain: '', version: target }];
  // Opset 17 needs IR version 8.
  if (Number(model.irVersion ?? 0) < 8) model.irVersion = 8;
  return target;
}
