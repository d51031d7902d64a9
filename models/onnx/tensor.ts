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

// Quantized weights. They are kept apart from HostTensor on purpose: every
// HostTensor consumer (safetensors, trainables, optimizers) handles float and
// index tensors only, and quantized codes never reach them.

/** ONNX TensorProto.DataType INT4 (IR 10); onnx-proto's enum predates it. */
export const ONNX_INT4 = 22;

/**
 * Integer codes of a quantized tensor, one array element per tensor element
 * (int4 values are unpacked to -8..7 here and packed only in the TensorProto).
 */
export type IntTensor =
  | { dtype: 'int8'; dims: number[]; data: Int8Array }
  | { dtype: 'uint8'; dims: number[]; data: Uint8Array }
  | { dtype: 'int4'; dims: number[]; data: Int8Array };

const intCode: Record<IntTensor['dtype'], number> = {
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  int4: ONNX_INT4,
};

/** Whether fromTensorProto can decode this ONNX data type. */
export function isHostDataType(code: number | null | undefined): boolean {
  return code !== null && code !== undefined && Object.values(dtypeCode).includes(code);
}

/** Packed int4 bytes: two values per byte, the first in the low nibble (ONNX's layout). */
export function packInt4(values: Int8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < -8 || v > 7) throw new RangeError(`int4 value ${v} is outside -8..7`);
    out[i >> 1] |= (v & 0xf) << ((i & 1) * 4);
  }
  return out;
}

export function unpackInt4(bytes: Uint8Array, count: number): Int8Array {
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (bytes[i >> 1] >> ((i & 1) * 4)) & 0xf;
    out[i] = nibble >= 8 ? nibble - 16 : nibble;
  }
  return out;
}

export function toIntTensorProto(name: string, t: IntTensor): onnx.TensorProto {
  if (t.data.length !== numel(t.dims)) {
    throw new Error(`tensor ${name}: ${t.data.length} elements for shape [${t.dims}]`);
  }
  const rawData =
    t.dtype === 'int4'
      ? packInt4(t.data)
      : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return onnx.TensorProto.create({ name, dims: t.dims, dataType: intCode[t.dtype], rawData });
}

/** Decodes an int8, uint8 or int4 TensorProto (raw_data or int32_data). */
export function fromIntTensorProto(t: TensorProto): IntTensor {
  const dims = (t.dims ?? []).map(toNumber);
  const n = numel(dims);
  const raw = t.rawData && t.rawData.length > 0 ? rawView(t.rawData) : null;
  const fromInts = () => t.int32Data ?? [];
  let out: IntTensor;
  switch (t.dataType) {
    case DataType.INT8:
      out = { dtype: 'int8', dims, data: raw ? new Int8Array(raw) : Int8Array.from(fromInts()) };
      break;
    case DataType.UINT8:
      out = { dtype: 'uint8', dims, data: raw ? new Uint8Array(raw) : Uint8Array.from(fromInts()) };
      break;
    case ONNX_INT4: {
      // int32_data holds the packed bytes too, one per element of the array.
      const bytes = raw ? new Uint8Array(raw) : Uint8Array.from(fromInts());
      if (bytes.length !== Math.ceil(n / 2))
        throw new Error(`tensor ${t.name}: ${bytes.length} int4 bytes for shape [${dims}]`);
      out = { dtype: 'int4', dims, data: unpackInt4(bytes, n) };
      break;
    }
    default:
      throw new Error(`tensor ${t.name}: data type ${t.dataType} is not an 8- or 4-bit integer type`);
  }
  if (out.data.length !== n)
    throw new Error(`tensor ${t.name}: ${out.data.length} elements for shape [${dims}]`);
  return out;
}
