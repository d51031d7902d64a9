// The arithmetic and the storage: symmetric block-wise codes, int4 packing,
// and TensorProto round trips.
import { describe, expect, it } from 'vitest';
import {
  DataType,
  fromIntTensorProto,
  type IntTensor,
  ONNX_INT4,
  onnx,
  packInt4,
  toIntTensorProto,
  unpackInt4,
} from '../../../models/onnx/index.js';
import { LEVELS, quantizeBlocked, quantizePerChannel } from '../../../models/quantize/index.js';

describe('int4 storage', () => {
  it('packs two values per byte, the first in the low nibble', () => {
    expect(Array.from(packInt4(Int8Array.of(1, -1, 7, -8, 3)))).toEqual([0xf1, 0x87, 0x03]);
    expect(Array.from(unpackInt4(Uint8Array.of(0xf1, 0x87, 0x03), 5))).toEqual([1, -1, 7, -8, 3]);
    expect(() => packInt4(Int8Array.of(8))).toThrow('int4 value 8 is outside -8..7');
  });

  it.each<IntTensor>([
    { dtype: 'int4', dims: [3, 3], data: Int8Array.of(-8, -7, -1, 0, 1, 2, 5, 6, 7) },
    { dtype: 'int8', dims: [2, 2], data: Int8Array.of(-128, -1, 0, 127) },
    { dtype: 'uint8', dims: [3], data: Uint8Array.of(0, 128, 255) },
  ])('$dtype round-trips through a TensorProto', (t) => {
    const proto = onnx.TensorProto.decode(onnx.TensorProto.encode(toIntTensorProto('t', t)).finish());
    expect(proto.dataType).toBe({ int4: ONNX_INT4, int8: DataType.INT8, uint8: DataType.UINT8 }[t.dtype]);
    expect(proto.rawData.length).toBe(t.dtype === 'int4' ? Math.ceil(t.data.length / 2) : t.data.length);
    expect(fromIntTensorProto(proto)).toEqual(t);
  });

  it('reads int32_data too, and refuses other types and wrong sizes', () => {
    expect(
      fromIntTensorProto(onnx.TensorProto.create({ dims: [2], dataType: DataType.INT8, int32Data: [-3, 4] })),
    ).toEqual({ dtype: 'int8', dims: [2], data: Int8Array.of(-3, 4) });
    expect(() =>
      fromIntTensorProto(onnx.TensorProto.create({ name: 'f', dataType: DataType.FLOAT })),
    ).toThrow('tensor f: data type 1 is not an 8- or 4-bit integer type');
    const short = onnx.TensorProto.create({
      name: 's',
      dims: [5],
      dataType: ONNX_INT4,
      rawData: Uint8Array.of(1),
    });
    expect(() => fromIntTensorProto(short)).toThrow('tensor s: 1 int4 bytes for shape [5]');
  });
});

describe('symmetric block-wise quantization', () => {
  const k = 70;
  const n = 3;
  const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));

  it.each([8, 4] as const)(
    'int%i: scales per block of rows, the block maximum exact, error within half a step',
    (bits) => {
      const { codes, scales } = quantizeBlocked(w, k, n, bits, 32);
      expect(scales.length).toBe(3 * n); // 32 + 32 + a last block of 6 rows
      const levels = LEVELS[bits];
      for (let r = 0; r < k; r++) {
        for (let c = 0; c < n; c++) {
          const s = scales[Math.floor(r / 32) * n + c];
          const q = codes[r * n + c];
          expect(Math.abs(q)).toBeLessThanOrEqual(levels);
          expect(Math.abs(w[r * n + c] - q * s)).toBeLessThanOrEqual(s / 2 + 1e-6);
        }
      }
      for (let b = 0; b < 3; b++) {
        for (let c = 0; c < n; c++) {
          const block = Array.from(
            { length: Math.min(32, k - b * 32) },
            (_, i) => codes[(b * 32 + i) * n + c],
          );
          expect(Math.max(...block.map(Math.abs))).toBe(levels);
        }
      }
    },
  );

  it('is symmetric under negation, and an all-zero block gets scale 1 and zero codes', () => {
    const neg = quantizeBlocked(
      w.map((v) => -v),
      k,
      n,
      4,
      32,
    );
    const pos = quantizeBlocked(w, k, n, 4, 32);
    expect(Array.from(neg.codes)).toEqual(Array.from(pos.codes, (c) => -c || 0));
    const zero = quantizeBlocked(new Float32Array(32 * 2), 32, 2, 8, 32);
    expect(Array.from(zero.scales)).toEqual([1, 1]);
    expect(zero.codes.every((c) => c === 0)).toBe(true);
  });

  it('per channel: one scale per slice of the first axis', () => {
    const conv = Float32Array.from({ length: 4 * 9 }, (_, i) => (i % 9) - 4 + Math.floor(i / 9));
    const { codes, scales } = quantizePerChannel(conv, 4, 8);
    expect(Array.from(scales)).toEqual([4, 5, 6, 7].map((m) => Math.fround(m / 127)));
    expect(codes[0]).toBe(-127);
    expect(codes[9 + 8]).toBe(127);
  });
});
