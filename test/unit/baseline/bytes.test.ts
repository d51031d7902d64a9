import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../../common/safetensors.js';
import { readTensors } from '../../../durable-objects/coordinator/update.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import { decodeUpdate } from '../../../protocol/update.js';
import { encodeUpdate, encodeVersion } from '../../../scripts/sim/baseline/bytes.js';
import type { Params } from '../../../scripts/sim/baseline/model.js';

const specs: TrainableSpec[] = [
  {
    name: 'embed.patch.weight',
    shape: [64, 1, 7, 7],
    owner: 'head',
    role: 'full',
    base: 'embed.patch.weight',
  },
  { name: 'blocks.0.attn.q.weight.lora_A', shape: [64, 8], owner: 'head', role: 'lora_A', base: 'q' },
  { name: 'head.weight', shape: [64, 10], owner: 'head', role: 'full', base: 'head.weight' },
];
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const params: Params = Object.fromEntries(
  specs.map((s) => [
    s.name,
    { dims: s.shape, data: Float32Array.from({ length: numel(s.shape) }, (_, i) => Math.sin(i)) },
  ]),
);
const tensorBytes = specs.reduce((a, s) => a + 4 * numel(s.shape), 0);
const meta = {
  sampleCount: 1120,
  meanLoss: 0.5,
  accuracy: 0.75,
  steps: 35,
  idempotencyKey: 'baseline-x-0/3/device-007/0123456789abcdef',
};

describe('baseline wire bytes', () => {
  it('uploads an update the coordinator accepts, holding every trainable', () => {
    const bytes = encodeUpdate(specs, params, meta);
    const read = readTensors(bytes, specs, 'update');
    expect(read.ok).toBe(true);
    if (read.ok) for (const s of specs) expect(read.value.get(s.name)).toEqual(params[s.name].data);
    // and the submit route: the same format, limits and metadata
    expect(decodeUpdate(bytes).metadata).toEqual(meta);
    // Four bytes per parameter; the rest is the header (names, shapes, metrics).
    expect(bytes.byteLength - tensorBytes).toBeGreaterThan(0);
    expect(bytes.byteLength - tensorBytes).toBeLessThan(700);
  });

  it('downloads a version as the coordinator serves one: every adapter, tagged with version and side', () => {
    const bytes = encodeVersion(specs, params, 7);
    const read = readTensors(bytes, specs, 'version');
    expect(read.ok).toBe(true);
    // The coordinator's encodeAdapters metadata for side `all`.
    expect(decodeSafetensors(bytes).metadata).toEqual({ version: '7', side: 'all' });
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(bytes.byteLength).toBe(8 + headerLength + tensorBytes);
  });
});
