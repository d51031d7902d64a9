// The split-training round trip of DESIGN.md: the tail's backward graph (loss
// mode, differentiated also with respect to the cut activation) returns
// dL/d activation; the head's backward graph (seed mode) turns it into head
// gradients. Together they must reproduce PyTorch's whole-model gradients.
import { beforeAll, describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import { readSafetensors } from '../../../models/io/safetensors.js';
import {
  fromTensorProto,
  graphOf,
  type HostTensor,
  loadModel,
  type ModelProto,
} from '../../../models/onnx/index.js';
import { type Cut, splitModel } from '../../../models/split/index.js';
import { relativeL2, run } from './helpers.js';

const DATA = '/work/shared/testdata/torchvision-vit';

function parameterFeeds(model: ModelProto, names: string[]): Record<string, HostTensor> {
  const inits = new Map(graphOf(model).initializer!.map((t) => [t.name!, t]));
  return Object.fromEntries(names.map((n) => [n, fromTensorProto(inits.get(n)!)]));
}

describe('head/tail backward chain on the torchvision ViT', () => {
  let reference: Map<string, HostTensor>;
  beforeAll(async () => {
    reference = await readSafetensors(`${DATA}/tv_vit_tiny_reference.safetensors`);
  });

  const cuts: Array<[string, Cut]> = [
    ['op14', { kind: 'embed' }],
    ['op17', { kind: 'block', index: 0 }],
  ];
  it.each(cuts)('%s cut at %o', async (variant, cut) => {
    const model = await loadModel(`${DATA}/tv_vit_tiny_${variant}.onnx`);
    const { head, tail, boundary } = await splitModel(model, cut);
    const headParams = trainableParameters(head);
    const tailParams = trainableParameters(tail);
    expect(headParams.length + tailParams.length).toBe(32);

    const pixels = reference.get('input.pixel_values')!;
    const activation = (await run(head, { pixel_values: pixels }))[boundary.name];
    const tailBackward = differentiate(tail, { wrt: [...tailParams, boundary.name], loss: 'cross-entropy' });
    const tailOut = await run(tailBackward, {
      [boundary.name]: {
        dtype: 'float32',
        dims: [...activation.dims],
        data: activation.data as Float32Array,
      },
      labels: reference.get('input.labels')!,
      ...parameterFeeds(tail, tailParams),
    });
    const gradActivation = tailOut[`grad.${boundary.name}`];
    const headBackward = differentiate(head, {
      wrt: headParams,
      seed: { output: boundary.name, gradInput: 'grad_activation' },
    });
    const headOut = await run(headBackward, {
      pixel_values: pixels,
      grad_activation: {
        dtype: 'float32',
        dims: [...gradActivation.dims],
        data: gradActivation.data as Float32Array,
      },
      ...parameterFeeds(head, headParams),
    });

    expect(
      Math.abs(
        (tailOut.loss.data as Float32Array)[0] - (reference.get('output.loss')!.data as Float32Array)[0],
      ),
    ).toBeLessThan(1e-5);
    for (const [params, out] of [
      [tailParams, tailOut],
      [headParams, headOut],
    ] as const) {
      for (const p of params) {
        const want = reference.get(`grad.${p}`)!.data as Float32Array;
        expect(relativeL2(out[`grad.${p}`].data as Float32Array, want), p).toBeLessThan(1e-4);
      }
    }
  });
});
