// Tail graphs from torch.onnx.export often compute the batch size as
// Shape(pixel_values)[0] and use it in Reshape/Expand targets. The tail has no
// pixel_values, so those Shape nodes are rewired to a stand-in for the input's
// shape rebuilt from the cut tensor: [Shape(cut)[0], <input's static dims>].
// That is exact when the batch is the input's only symbolic dim and also the
// cut's first dim, which the caller checks.
import { attrInt, hasAttr } from '../onnx/attributes.js';
import { shapeOf } from '../onnx/model.js';
import { type NodeProto, onnx, type ValueInfoProto } from '../onnx/proto.js';
import { int64, toTensorProto } from '../onnx/tensor.js';

export interface BatchShapeContext {
  /** The tail's input: the cut tensor. */
  cut: string;
  /** Whether the cut's axis 0 is the batch (checked by probing). */
  cutLeadsWithBatch: boolean;
  /** The original model's graph inputs. */
  inputs: ValueInfoProto[];
  /** Tensor and node names already in use, extended with the ones created here. */
  taken: Set<string>;
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/** The input's static dims after the batch, or an error saying why the rebuild is not valid. */
function staticTail(input: ValueInfoProto, ctx: BatchShapeContext): number[] {
  const dims = shapeOf(input);
  const rest = dims.slice(1);
  if (dims.length === 0 || typeof dims[0] === 'number' || rest.some((d) => typeof d !== 'number')) {
    throw new Error(
      `tail needs the shape of input ${input.name} [${dims.map((d) => d ?? '?')}], which can only be rebuilt ` +
        'when the batch (axis 0) is its only symbolic dimension',
    );
  }
  if (!ctx.cutLeadsWithBatch) {
    throw new Error(
      `tail needs the batch size of input ${input.name}, but the cut tensor ${ctx.cut} does not have the batch as axis 0`,
    );
  }
  return rest as number[];
}

/**
 * Replaces every Shape node reading one of the original inputs by a read of
 * the rebuilt shape. Returns the nodes, with the rebuilding nodes prepended,
 * and the names of the inputs whose shapes were rebuilt.
 */
export function rebuildInputShapes(
  nodes: NodeProto[],
  ctx: BatchShapeContext,
): { nodes: NodeProto[]; inputs: string[] } {
  const byName = new Map(ctx.inputs.map((i) => [i.name ?? '', i]));
  const readsInputShape = (n: NodeProto) => n.opType === 'Shape' && byName.has(n.input?.[0] ?? '');
  if (!nodes.some(readsInputShape)) return { nodes, inputs: [] };

  const prelude: NodeProto[] = [];
  const add = (opType: string, input: string[], base: string, attribute: onnx.IAttributeProto[] = []) => {
    const out = uniqueName(ctx.taken, `${base}_output_0`);
    prelude.push(
      onnx.NodeProto.create({ name: uniqueName(ctx.taken, base), opType, input, output: [out], attribute }),
    );
    return out;
  };
  const constant = (values: number[], base: string) =>
    add('Constant', [], base, [
      onnx.AttributeProto.create({
        name: 'value',
        type: onnx.AttributeProto.AttributeType.TENSOR,
        t: toTensorProto('', int64([values.length], values)),
      }),
    ]);

  const cutShape = add('Shape', [ctx.cut], '/split/batch/Shape');
  const batch = add(
    'Slice',
    [
      cutShape,
      constant([0], '/split/batch/Constant'),
      constant([1], '/split/batch/Constant'),
      constant([0], '/split/batch/Constant'),
    ],
    '/split/batch/Slice',
  );
  const rebuilt = new Map<string, { shape: string; rank: number }>();
  const shapeFor = (input: ValueInfoProto) => {
    const name = input.name ?? '';
    let r = rebuilt.get(name);
    if (!r) {
      const rest = staticTail(input, ctx);
      const scope = `/split/${name}`;
      const shape = add('Concat', [batch, constant(rest, `${scope}/Constant`)], `${scope}/Concat`, [
        onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
      ]);
      r = { shape, rank: rest.length + 1 };
      rebuilt.set(name, r);
    }
    return r;
  };

  const rewritten = nodes.map((n) => {
    if (!readsInputShape(n)) return n;
    const { shape, rank } = shapeFor(byName.get(n.input?.[0] ?? '') as ValueInfoProto);
    if (!hasAttr(n, 'start') && !hasAttr(n, 'end')) {
      return onnx.NodeProto.create({ name: n.name, opType: 'Identity', input: [shape], output: n.output });
    }
    // Shape-15's start/end: negative counts from the back, out of range clamps.
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(attrInt(n, 'start', 0));
    const end = clamp(attrInt(n, 'end', rank));
    const scope = `${n.name}/split`;
    const starts = constant([start], `${scope}/Constant`);
    const ends = constant([end], `${scope}/Constant`);
    return onnx.NodeProto.create({
      name: n.name,
      opType: 'Slice',
      input: [shape, starts, ends],
      output: n.output,
    });
  });
  return { nodes: [...prelude, ...rewritten], inputs: [...rebuilt.keys()] };
}
