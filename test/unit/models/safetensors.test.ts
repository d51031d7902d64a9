import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../models/io/safetensors.js';
import { torchvisionReference } from './helpers.js';

function file(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors reader', () => {
  it('reads the torchvision reference tensors', async () => {
    const ref = await torchvisionReference();
    const px = ref.get('input.pixel_values');
    expect(px?.dtype).toBe('float32');
    expect(px?.dims).toEqual([3, 3, 32, 32]);
    const labels = ref.get('input.labels');
    expect(labels?.dtype).toBe('int64');
    expect(labels?.dims).toEqual([3]);
    expect(ref.get('output.logits')?.dims).toEqual([3, 10]);
    expect(ref.get('grad.conv_proj.weight')?.dims).toEqual([32, 3, 8, 8]);
  });

  it('decodes little-endian data at the header offsets and skips metadata', () => {
    const data = new Uint8Array(new Float32Array([1.5, -2, 3, 4]).buffer);
    const t = parseSafetensors(
      file({ __metadata__: { a: 'b' }, x: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }, data),
    );
    expect([...t.keys()]).toEqual(['x']);
    expect(Array.from(t.get('x')?.data as Float32Array)).toEqual([1.5, -2, 3, 4]);
  });

  it('rejects offsets that do not match the shape', () => {
    const bad = file({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(() => parseSafetensors(bad)).toThrow(/data_offsets/);
  });
});
