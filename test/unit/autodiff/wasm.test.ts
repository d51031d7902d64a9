// The point of generating plain ONNX: backward graphs must run on
// onnxruntime-web's WASM CPU backend (browsers, workerd), not only natively.
// Covers the ViT backward and a graph that exercises the run-time fallbacks
// (NonZero unbroadcast, Range/ReduceMin slice pads, strided-slice and gather
// scatters, cropped ConvTranspose).
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import { readSafetensors } from '../../../models/io/safetensors.js';
import {
  encodeModel,
  fromTensorProto,
  graphOf,
  type HostTensor,
  int64,
  loadModel,
} from '../../../models/onnx/index.js';
import { makeModel, node, randomTensor, relativeL2, run, uniform } from './helpers.js';

const DATA = '/work/shared/testdata/torchvision-vit';

async function runWeb(bytes: Uint8Array, feeds: Record<string, HostTensor>) {
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const tensors = Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [
      k,
      new ortWeb.Tensor(t.dtype === 'float32' ? 'float32' : t.dtype, t.data as Float32Array, t.dims),
    ]),
  );
  return session.run(tensors);
}

describe('backward graphs on onnxruntime-web (WASM)', () => {
  beforeAll(() => {
    ortWeb.env.wasm.numThreads = 1;
  });

  it('torchvision ViT (opset 17): PyTorch gradients', async () => {
    const ref = await readSafetensors(`${DATA}/tv_vit_tiny_reference.safetensors`);
    const model = await loadModel(`${DATA}/tv_vit_tiny_op17.onnx`);
    const params = trainableParameters(model);
    const backward = differentiate(model, { wrt: [...params, 'pixel_values'], loss: 'cross-entropy' });
    const inits = new Map(graphOf(model).initializer!.map((t) => [t.name!, t]));
    const out = await runWeb(encodeModel(backward), {
      pixel_values: ref.get('input.pixel_values')!,
      labels: ref.get('input.labels')!,
      ...Object.fromEntries(params.map((p) => [p, fromTensorProto(inits.get(p)!)])),
    });
    for (const key of [...ref.keys()].filter((k) => k.startsWith('grad.'))) {
      expect(relativeL2(out[key].data as Float32Array, ref.get(key)!.data as Float32Array), key).toBeLessThan(
        1e-4,
      );
    }
  });

  it('run-time fallback paths agree with onnxruntime-node', async () => {
    const model = makeModel({
      nodes: [
        node('Conv', ['x', 'w'], ['c'], { strides: [2, 2], pads: [1, 0, 1, 1] }),
        node('Shape', ['c'], ['s']),
        node('Gather', ['s', 'three'], ['d'], { axis: 0 }),
        node('Div', ['d', 'two'], ['half']),
        node('Slice', ['c', 'zero', 'half', 'three'], ['head']),
        node('Slice', ['head', 'one', 'big', 'three', 'two'], ['strided']),
        node('Gather', ['strided', 'idx'], ['picked'], { axis: 1 }),
        node('Add', ['picked', 'b'], ['y']),
      ],
      inputs: { x: ['N', 2, 'H', 'W'], w: [3, 2, 3, 3], b: null },
      outputs: ['y'],
      initializers: {
        zero: int64([1], [0]),
        one: int64([1], [1]),
        two: int64([1], [2]),
        three: int64([1], [3]),
        big: int64([1], [1000]),
        idx: int64([2], [0, 0]),
      },
    });
    const backward = differentiate(model, { wrt: ['x', 'w', 'b'], seed: { output: 'y', gradInput: 'gy' } });
    const ops = new Set(graphOf(backward).node!.map((n) => n.opType));
    for (const op of ['NonZero', 'ReduceMin', 'ScatterElements', 'Pad', 'ConvTranspose'])
      expect(ops).toContain(op);
    const rand = uniform(11);
    const feeds = {
      x: randomTensor(rand, [2, 2, 7, 8]),
      w: randomTensor(rand, [3, 2, 3, 3]),
      b: randomTensor(rand, [1]),
      gy: randomTensor(rand, [2, 2, 4, 1]),
    };
    const web = await runWeb(encodeModel(backward), feeds);
    const native = await run(backward, feeds);
    for (const key of ['grad.x', 'grad.w', 'grad.b']) {
      expect(web[key].dims, key).toEqual(native[key].dims);
      expect(relativeL2(web[key].data as Float32Array, native[key].data as Float32Array), key).toBeLessThan(
        1e-5,
      );
    }
  });
});
