import { DataType, onnx, type TensorProto } from './proto.js';

/** A dense host tensor: the in-memory form of an ONNX initializer or constant. */
export type HostTensor =
  | { dtype: 'float32'; dims: number[]; data: Float32Array }
  | { dtype: 'int64'; dims: number[]; data: BigInt64Array }
  | { dtype: 'int32'; dims: number[]; data: Int32Array }
  | { dtype: 'bool'; dims: number[]; data: Uint8Array };

export type HostDtype = HostTensor['dtype'];

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** protobufjs 6 hands int64 fields back as Long objects or numbers. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  if (typeof v === 'string') return Number(v);
  throw new TypeError(`not an integer: ${String(v)}`);
}

function rawView(raw: Uint8Array): ArrayBuffer {
  // raw_data may alias a larger decode buffer (a Node Buffer pool) at an unaligned
  // offset, and Buffer#slice does not copy: copy into a fresh, aligned buffer.
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return copy.buffer;
}

/** Decodes an ONNX TensorProto (raw_data or typed fields) into a HostTensor. */
export function fromTensorProto(t: TensorProto): HostTensor {
  const dims = (t.dims ?? []).map(toNumber);
  const n = numel(dims);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (t.externalData && t.externalData.length > 0) {
    throw new Error(`tensor ${t.name}: external data is not supported; re-export with weights embedded`);
  }
  switch (t.dataType) {
    case DataType.FLOAT: {
      const data = raw ? new Float32Array(rawView(raw)) : Float32Array.from(t.floatData ?? []);
      return check(t, { dtype: 'float32', dims, data }, n);
    }
    case DataType.INT64: {
      const data = raw
        ? new BigInt64Array(rawView(raw))
        : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v))));
      return check(t, { dtype: 'int64', dims, data }, n);
    }
    case DataType.INT32: {
      const data = raw ? new Int32Array(rawView(raw)) : Int32Array.from(t.int32Data ?? []);
      return check(t, { dtype: 'int32', dims, data }, n);
    }
    case DataType.BOOL: {
      const data = raw ? new Uint8Array(rawView(raw)) : Uint8Array.from(t.int32Data ?? []);
      return check(t, { dtype: 'bool', dims, data }, n);
    }
    default:
      throw new Error(`tensor ${t.name}: data type ${t.dataType} is not supported`);
  }
}

function check(t: TensorProto, h: HostTensor, n: number): HostTensor {
  if (h.data.length !== n) {
    throw new Error(`tensor ${t.name}: ${h.data.length} elements for shape [${h.dims}]`);
  }
  return h;
}

const dtypeCode: Record<HostDtype, number> = {
  float32: DataType.FLOAT,
  int64: DataType.INT64,
  int32: DataType.INT32,
  bool: DataType.BOOL,
};

export function dataTypeOf(dtype: HostDtype): number {
  return dtypeCode[dtype];
}

export function hostDtypeOf(code: number): HostDtype {
  const found = (Object.keys(dtypeCode) as HostDtype[]).find((k) => dtypeCode[k] === code);
  if (!found) throw new Error(`ONNX data type ${code} is not supported`);
  return found;
}

/** Encodes a HostTensor as a TensorProto with raw_data (little-endian, as ONNX requires). */
export function toTensorProto(name: string, h: HostTensor): onnx.TensorProto {
  const bytes = new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength).slice();
  return onnx.TensorProto.create({ name, dims: h.dims, dataType: dtypeCode[h.dtype], rawData: bytes });
}

export const float32 = (dims: number[], data?: ArrayLike<number>): HostTensor => ({
  dtype: 'float32',
  dims,
  data: data ? Float32Array.from(data) : new Float32Array(numel(dims)),
});

export const int64 = (dims: number[], data: ArrayLike<number | bigint>): HostTensor => ({
  dtype: 'int64',
  dims,
  data: BigInt64Array.from(Array.from(data, (v) => BigInt(v))),
});
