// differentiate() on quantized graphs: gradients flow past DequantizeLinear to
// the activations and the remaining float parameters, and equal the gradients
// of the fp32 graph whose weights hold the dequantized values.
import { describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import { readSafetensors } from '../../../models/io/safetensors.js';
import {
  fromTensorProto,
  graphOf,
  type HostTensor,
  int64,
  loadModel,
  type ModelProto,
} from '../../../models/onnx/index.js';
import { randomFeeds } from '../../../models/quantize/agreement.js';
import { arrangeForFusion, quantizeWeights } from '../../../models/quantize/index.js';
import { loadPretrainedVit } from '../../../models/weights/pretrained.js';
import { relativeL2, runWeb, TORCHVISION, withDequantizedWeights } from './helpers.js';

interface Case {
  label: string;
  load: () => Promise<ModelProto>;
  feeds: () => Promise<Record<string, HostTensor>>;
  params: string[];
}

const cases: Case[] = [
  {
    label: 'reference ViT (pretrained)',
    load: loadPretrainedVit,
    feeds: async () => ({
      ...randomFeeds(await loadPretrainedVit(), 3, 2),
      labels: int64([3], [1, 7, 3]),
    }),
    params: ['blocks.0.norm1.weight', 'blocks.1.attn.q.bias', 'embed.pos', 'head.weight'],
  },
  ...(['op17', 'op14'] as const).map((variant) => ({
    label: `torchvision ${variant}`,
    load: () => loadModel(`${TORCHVISION}/tv_vit_tiny_${variant}.onnx`),
    feeds: async () => {
      const ref = await readSafetensors(`${TORCHVISION}/tv_vit_tiny_reference.safetensors`);
      return { pixel_values: ref.get('input.pixel_values')!, labels: ref.get('input.labels')! };
    },
    params: [
      'class_token',
      'encoder.layers.encoder_layer_0.ln_1.weight',
      'encoder.layers.encoder_layer_1.self_attention.in_proj_bias',
      'heads.head.weight',
    ],
  })),
];

function paramFeeds(model: ModelProto, names: string[]): Record<string, HostTensor> {
  const inits = new Map(graphOf(model).initializer!.map((t) => [t.name!, t]));
  return Object.fromEntries(names.map((n) => [n, fromTensorProto(inits.get(n)!)]));
}

describe.each(cases)('$label', ({ load, feeds, params }) => {
  it.each([8, 4] as const)(
    'int%i: gradients equal those of the fp32 graph with dequantized weights',
    async (bits) => {
      const fp32 = await load();
      const { model, report } = quantizeWeights(fp32, { bits });
      const substituted = withDequantizedWeights(fp32, model, report);
      const input = graphOf(fp32).input![0].name!;
      const wrt = [input, ...params];
      const all = { ...(await feeds()), ...paramFeeds(fp32, params) };

      const want = await runWeb(differentiate(substituted, { wrt, loss: 'cross-entropy' }), all);
      const backward = differentiate(model, { wrt, loss: 'cross-entropy' });
      arrangeForFusion(backward);
      const got = await runWeb(backward, all);
      expect(Math.abs(got.loss[0] - want.loss[0])).toBeLessThan(1e-5 * Math.abs(want.loss[0]));
      for (const name of wrt) {
        expect(relativeL2(got[`grad.${name}`], want[`grad.${name}`]), name).toBeLessThan(1e-4);
      }
    },
  );

  it('parameters exclude the quantization scales; differentiating a scale is refused', async () => {
    const { model, report } = quantizeWeights(await load(), { bits: 4 });
    const found = trainableParameters(model);
    for (const p of params) expect(found).toContain(p);
    expect(found.some((p) => report.quantized.some((w) => w.scale === p || w.name === p))).toBe(false);
    const scale = report.quantized[1].scale;
    expect(() => differentiate(model, { wrt: [scale], loss: 'cross-entropy' })).toThrow(
      new RegExp(
        `DequantizeLinear node '.*' reads '${scale.replace(/\./g, '\\.')}'.*quantized weights are frozen`,
      ),
    );
  });
});
