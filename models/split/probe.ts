// Finds the shape and element type of a model's outputs by running it, twice,
// on zero-filled inputs with batch sizes 1 and 2: dims that change with the
// batch are marked symbolic ('batch'). Running the graph avoids re-implementing
// ONNX shape inference over exporter shape arithmetic (Shape, Gather, Where,
// ...) at the cost of assuming that the batch is the only dynamic dimension.
import * as ort from 'onnxruntime-node';
import { encodeModel, realInputs, shapeOf } from '../onnx/model.js';
import { DataType, type ModelProto } from '../onnx/proto.js';

export const BATCH_DIM = 'batch';

export interface ProbedTensor {
  name: string;
  elemType: number;
  /** Static dims as numbers, batch-dependent dims as 'batch'. */
  dims: Array<number | string>;
  /** Concrete dims at batch 1 and 2, for checks that need them. */
  atBatch1: number[];
  atBatch2: number[];
}

const ORT_TO_ONNX: Record<string, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

function dummyFeeds(model: ModelProto, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of realInputs(model.graph ?? {})) {
    const name = input.name ?? '';
    const dims = shapeOf(input).map((d, axis) => {
      if (typeof d === 'number') return d;
      if (axis === 0) return batch;
      throw new Error(
        `input ${name}: dimension ${axis} is not static; only the batch (axis 0) may be symbolic`,
      );
    });
    const n = dims.reduce((a, b) => a * b, 1);
    const elemType = input.type?.tensorType?.elemType;
    if (elemType === DataType.FLOAT) feeds[name] = new ort.Tensor('float32', new Float32Array(n), dims);
    else if (elemType === DataType.INT64) feeds[name] = new ort.Tensor('int64', new BigInt64Array(n), dims);
    else throw new Error(`input ${name}: element type ${elemType} is not supported for shape probing`);
  }
  return feeds;
}

/** Runs `model` at batch 1 and 2 and reports its outputs' element types and shapes. */
export async function probeOutputs(model: ModelProto): Promise<ProbedTensor[]> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const one = await session.run(dummyFeeds(model, 1));
    const two = await session.run(dummyFeeds(model, 2));
    return session.outputNames.map((name) => {
      const a = one[name];
      const b = two[name];
      const elemType = ORT_TO_ONNX[a.type];
      if (elemType === undefined) throw new Error(`output ${name}: ORT type ${a.type} has no mapping`);
      const atBatch1 = [...a.dims];
      const atBatch2 = [...b.dims];
      if (atBatch1.length !== atBatch2.length)
        throw new Error(`output ${name}: rank changes with the batch size`);
      const dims = atBatch1.map((d, i) => (d === atBatch2[i] ? d : BATCH_DIM));
      return { name, elemType, dims, atBatch1, atBatch2 };
    });
  } finally {
    await session.release();
  }
}
