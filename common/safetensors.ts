// The safetensors format, runtime-neutral (devices, Workers, Node): an 8-byte little-endian header length,
// a JSON header mapping names to {dtype, shape, data_offsets}, then the raw
// little-endian tensor bytes (offsets are relative to the end of the header).
import type { HostTensor } from '../models/onnx/tensor.js';

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, I64: 8, I32: 4, BOOL: 1, U8: 1 };

function decode(entry: Entry, bytes: Uint8Array): HostTensor {
  // Copy so the typed array is aligned and does not alias the file buffer
  // (a Node Buffer's slice() is a view, not a copy).
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const buf = copy.buffer;
  const dims = [...entry.shape];
  switch (entry.dtype) {
    case 'F32':
      return { dtype: 'float32', dims, data: new Float32Array(buf) };
    case 'I64':
      return { dtype: 'int64', dims, data: new BigInt64Array(buf) };
    case 'I32':
      return { dtype: 'int32', dims, data: new Int32Array(buf) };
    case 'BOOL':
    case 'U8':
      return { dtype: 'bool', dims, data: new Uint8Array(buf) };
    default:
      throw new Error(`safetensors: dtype ${entry.dtype} is not supported`);
  }
}

/** Parses a safetensors file's bytes into named tensors (the `__metadata__` entry is skipped). */
export function parseSafetensors(file: Uint8Array): Map<string, HostTensor> {
  if (file.byteLength < 8) throw new Error('safetensors: file is shorter than its header length field');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const dataStart = 8 + headerLength;
  if (dataStart > file.byteLength) throw new Error('safetensors: header runs past the end of the file');
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, dataStart))) as Record<string, unknown>;
  const out = new Map<string, HostTensor>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = value as Entry;
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const width = BYTES[entry.dtype];
    if (width === undefined) throw new Error(`safetensors: ${name}: dtype ${entry.dtype} is not supported`);
    if (end - begin !== count * width || dataStart + end > file.byteLength) {
      throw new Error(
        `safetensors: ${name}: data_offsets [${begin}, ${end}] do not fit shape [${entry.shape}]`,
      );
    }
    out.set(name, decode(entry, file.subarray(dataStart + begin, dataStart + end)));
  }
  return out;
}

const DTYPE_NAME: Record<HostTensor['dtype'], string> = {
  float32: 'F32',
  int64: 'I64',
  int32: 'I32',
  bool: 'BOOL',
};

/**
 * Serializes named tensors as safetensors, names sorted so the same tensors
 * always give the same bytes (the file's sha256 is a stable identity).
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = {
      dtype: DTYPE_NAME[t.dtype],
      shape: t.dims,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
