// Whether a head's uplink is affine in its input. If every operation between the
// model input and the cut is affine in the input (a patch embedding: Conv,
// MatMul, adds of constants, reshapes), the activation is A·x + b for a
// matrix anyone holding the public head can recover, and with at least as
// many values as pixels the server can solve for the image (npm run privacy
// measures it: 116 dB at fp32, 33 dB at int8 on vit-fashion; with fewer
// values it recovers the input's projection). The check is
// structural (the graph, not a run): an input-dependent value may only pass
// through ops that are linear in it, and a product may take it on one side.
import type { ModelProto } from '../onnx/proto.js';

/** Ops linear in each input-dependent operand, whatever the others are. */
const LINEAR = new Set([
  'Add',
  'Sub',
  'Neg',
  'Identity',
  'Reshape',
  'Transpose',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'Expand',
  'Tile',
  'Pad',
  'Cast',
  'Dropout',
  'ReduceSum',
  'ReduceMean',
  'AveragePool',
  'GlobalAveragePool',
  'DequantizeLinear',
]);
/** Bilinear ops: affine in the input as long as only one operand depends on it. */
const PRODUCTS = new Set(['Mul', 'MatMul', 'Gemm', 'Conv', 'Div', 'ConvTranspose', 'Einsum']);
/** Ops whose output depends on a tensor's shape, not its values. */
const SHAPE_ONLY = new Set(['Shape', 'Size', 'ConstantOfShape']);

export interface UplinkExposure {
  /**
   * The cut is an affine function of the input: the server can solve for it
   * (all of it with as many values as pixels). false rules out only this
   * analytic attack, not a learned decoder.
   */
  affineUplink: boolean;
  /** Why, in a sentence for the manifest and the SDK's warning. */
  reason: string;
}

/** `perImage`: values per example at the input and at the cut (shape without the batch dimension). */
export function uplinkExposure(
  head: ModelProto,
  inputName: string,
  cutName: string,
  perImage: { input: number; cut: number },
): UplinkExposure {
  // Input-dependent values: affine in the input, or not.
  const affine = new Set([inputName]);
  const nonlinear = new Set<string>();
  let blocker: string | null = null;
  for (const node of head.graph?.node ?? []) {
    const inputs = node.input ?? [];
    const op = node.opType ?? '';
    if (SHAPE_ONLY.has(op)) continue;
    const outputs = node.output ?? [];
    const dependent = inputs.filter((i) => affine.has(i)).length;
    if (inputs.some((i) => nonlinear.has(i))) {
      for (const o of outputs) nonlinear.add(o);
      continue;
    }
    if (dependent === 0) continue;
    const stays =
      LINEAR.has(op) ||
      // Div is linear in its numerator only.
      (PRODUCTS.has(op) && dependent === 1 && !(op === 'Div' && affine.has(inputs[1] ?? '')));
    if (!stays) blocker ??= `${op} (${node.name ?? 'unnamed'})`;
    for (const o of outputs) (stays ? affine : nonlinear).add(o);
  }
  if (!affine.has(cutName)) {
    return {
      affineUplink: false,
      reason: nonlinear.has(cutName)
        ? `the head is not affine in its input up to the cut (${blocker} is nonlinear)`
        : 'the cut does not depend on the input',
    };
  }
  if (perImage.cut < perImage.input) {
    // Fewer values than pixels still give away the input's projection onto a large subspace.
    return {
      affineUplink: true,
      reason: `the head is affine up to the cut (${perImage.input} input values to ${perImage.cut}): the server can recover the input's projection`,
    };
  }
  return {
    affineUplink: true,
    reason: `the head is affine up to the cut and maps ${perImage.input} input values to ${perImage.cut}: the server can solve for the input`,
  };
}
