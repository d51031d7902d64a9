// Selection mistakes fail loudly, naming the pattern or tensor and the reason.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../models/graph/builder.js';
import { injectLora, readTrainables, TRAINABLES_KEY } from '../../../models/lora/index.js';
import { DataType, type ModelProto, onnx, valueInfo } from '../../../models/onnx/index.js';
import { float32 } from '../../../models/onnx/tensor.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';

const vit = buildVit({ ...REFERENCE_VIT, depth: 1 });
const base = { rank: 2, alpha: 4, seed: 0 };

/** x → MatMul(W) and also Mul(x, W-shaped): W has a non-weight reader. */
function sharedWeightModel(): ModelProto {
  const g = new GraphBuilder();
  const x = g.input(valueInfo('x', DataType.FLOAT, [3, 3]));
  const w = g.initializer('w', float32([3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]));
  const y = g.op('Add', [g.op('MatMul', [x, w]), g.op('Mul', [x, w])], { outputs: ['y'] });
  g.output(valueInfo(y, DataType.FLOAT, [3, 3]));
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: g.graph('g'),
  });
}

describe('injectLora errors', () => {
  it('a pattern matching no initializer is an error naming the pattern', () => {
    expect(() => injectLora(vit, { ...base, targets: /attn\.qkv\.weight$/ })).toThrow(
      'LoRA target /attn\\.qkv\\.weight$/ selects no weight: no initializer name matches',
    );
  });

  it('each part of a pattern list must select something', () => {
    expect(() => injectLora(vit, { ...base, targets: [/attn\.q\.weight$/, /nope/] })).toThrow(
      'LoRA target /nope/ selects no weight',
    );
    expect(() => injectLora(vit, { ...base, targets: ['blocks.0.attn.q.wieght'] })).toThrow(
      'LoRA target "blocks.0.attn.q.wieght" selects no weight: no initializer name matches',
    );
  });

  it('a pattern matching only non-linear tensors says so', () => {
    expect(() => injectLora(vit, { ...base, targets: /norm1\./ })).toThrow(
      /selects no weight: it matches 2 initializer\(s\), none a MatMul\/Gemm weight \(e\.g\. blocks\.0\.norm1\.weight\)/,
    );
  });

  it('a regexp skips biases, but an exact name must be a linear weight', () => {
    const { adapters } = injectLora(vit, { ...base, targets: /attn\.q\./ });
    expect(adapters.map((a) => a.name)).toEqual([
      'blocks.0.attn.q.weight.lora_A',
      'blocks.0.attn.q.weight.lora_B',
    ]);
    expect(() => injectLora(vit, { ...base, targets: ['blocks.0.attn.q.bias'] })).toThrow(
      'cannot add LoRA to blocks.0.attn.q.bias: it is 1-D, not a matrix',
    );
    expect(() => injectLora(vit, { ...base, targets: ['embed.patch.weight'] })).toThrow(
      'cannot add LoRA to embed.patch.weight: it is 4-D, not a matrix',
    );
  });

  it('a weight that also has a non-weight reader is refused, not silently skipped', () => {
    expect(() => injectLora(sharedWeightModel(), { ...base, targets: /^w$/ })).toThrow(
      /cannot add LoRA to w: it is also read by Mul/,
    );
  });

  it('rejects bad hyperparameters and empty selections', () => {
    expect(() => injectLora(vit, { ...base, rank: 0, targets: /q\.weight/ })).toThrow(
      'rank must be a positive integer',
    );
    expect(() => injectLora(vit, { ...base, rank: 1.5, targets: /q\.weight/ })).toThrow('rank');
    expect(() => injectLora(vit, { ...base, alpha: 0, targets: /q\.weight/ })).toThrow(
      'alpha must be positive',
    );
    expect(() => injectLora(vit, { ...base, alpha: Number.NaN, targets: /q\.weight/ })).toThrow('alpha');
    expect(() => injectLora(vit, { ...base, seed: 0.5, targets: /q\.weight/ })).toThrow('seed');
    expect(() => injectLora(vit, { ...base, targets: [] })).toThrow('nothing to train');
  });

  it('full-mode patterns must match, and may not overlap the LoRA targets', () => {
    expect(() => injectLora(vit, { ...base, targets: [], full: /^classifier\./ })).toThrow(
      'full-mode pattern /^classifier\\./ matches no initializer',
    );
    expect(() => injectLora(vit, { ...base, targets: /^head\.weight$/, full: /^head\./ })).toThrow(
      'head.weight is selected both for LoRA and for full-mode training',
    );
    // Full mode alone is allowed.
    const { adapters } = injectLora(vit, { ...base, targets: [], full: /^head\./ });
    expect(adapters.map((a) => [a.name, a.role])).toEqual([
      ['head.weight', 'full'],
      ['head.bias', 'full'],
    ]);
  });

  it('a second injection adds to the record but refuses to adapt a weight twice', () => {
    const once = injectLora(vit, { ...base, targets: /attn\.q\.weight$/ }).model;
    expect(() => injectLora(once, { ...base, targets: /attn\.q\.weight$/ })).toThrow(
      'blocks.0.attn.q.weight already has a LoRA adapter',
    );
    const twice = injectLora(once, { ...base, rank: 3, targets: /attn\.k\.weight$/ }).model;
    const record = readTrainables(twice);
    expect(record.lora.map((r) => [r.base, r.rank])).toEqual([
      ['blocks.0.attn.q.weight', 2],
      ['blocks.0.attn.k.weight', 3],
    ]);
  });

  it('malformed trainables metadata is reported', () => {
    const broken = onnx.ModelProto.create({
      ...vit,
      metadataProps: [{ key: TRAINABLES_KEY, value: '{"version":9}' }],
    });
    expect(() => readTrainables(broken)).toThrow('malformed or of an unknown version');
  });
});
