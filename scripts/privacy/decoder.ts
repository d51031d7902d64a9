// The learned uplink attack: a decoder the attacker trains on public images
// of the domain to map the activations devices send back to pixels. It
// exploits the token layout: a per-token MLP (with a linear path beside it)
// turns each patch token into that patch's pixels, the patches are laid back on the image grid, and a small
// residual convolution stack repairs what crosses patch borders. The graph is
// built with the project's builder and differentiated by its autodiff (mean
// squared error against the normalized pixels), and trained with its AdamW on
// onnxruntime-node until the loss on held-back public images stops improving.
import * as ort from 'onnxruntime-node';
import { adamw } from '../../common/optim/index.js';
import { mulberry32, shuffle } from '../../common/random.js';
import { differentiate } from '../../models/autodiff/index.js';
import { GraphBuilder } from '../../models/graph/builder.js';
import { DataType, encodeModel, type ModelProto, onnx, valueInfo } from '../../models/onnx/index.js';
import { int64 } from '../../models/onnx/tensor.js';
import { WeightInit } from '../../models/vit/init.js';

export interface DecoderShape {
  /** Tokens at the cut, the leading `prefixTokens` of which (cls) carry no patch. */
  tokens: number;
  prefixTokens: number;
  width: number;
  channels: number;
  /** Patch side; the image is grid × grid patches. */
  patch: number;
  grid: number;
  hidden: number;
  /** Channels of the residual convolution stack (0: none). */
  convChannels: number;
}

const ACTIVATION = 'activation';
const RECON = 'recon';

/** The decoder graph: activation [B, tokens, width] → recon [B, channels, H, W] (normalized pixels). */
export function buildDecoder(s: DecoderShape, seed: number): ModelProto {
  const g = new GraphBuilder();
  const init = new WeightInit(seed);
  const side = s.grid * s.patch;
  const patchValues = s.channels * s.patch * s.patch;
  const ints = (v: number[]) => g.constant(int64([v.length], v));
  const x = g.input(valueInfo(ACTIVATION, DataType.FLOAT, ['batch', s.tokens, s.width]));
  const patches = g.op('Slice', [x, ints([s.prefixTokens]), ints([s.tokens]), ints([1])]);
  const w1 = g.initializer('dec.fc1.weight', init.truncNormal([s.width, s.hidden], 1 / Math.sqrt(s.width)));
  const b1 = g.initializer('dec.fc1.bias', init.zeros([s.hidden]));
  const w2 = g.initializer(
    'dec.fc2.weight',
    init.truncNormal([s.hidden, patchValues], 1 / Math.sqrt(s.hidden)),
  );
  const b2 = g.initializer('dec.fc2.bias', init.zeros([patchValues]));
  const h = g.op('Gelu', [g.op('Add', [g.op('MatMul', [patches, w1]), b1])]);
  // A linear path beside the MLP: at the patch embedding the exact inverse is linear.
  const ws = g.initializer(
    'dec.skip.weight',
    init.truncNormal([s.width, patchValues], 1 / Math.sqrt(s.width)),
  );
  const p = g.op('Add', [g.op('Add', [g.op('MatMul', [h, w2]), b2]), g.op('MatMul', [patches, ws])]);
  // [B, gy·gx, C·P·P] → [B, gy, gx, C, P, P] → [B, C, gy, P, gx, P] → [B, C, H, W]
  const grid = g.op('Reshape', [p, ints([0, s.grid, s.grid, s.channels, s.patch, s.patch])]);
  const laid = g.op('Transpose', [grid], { attrs: { perm: [0, 3, 1, 4, 2, 5] } });
  let image = g.op('Reshape', [laid, ints([0, s.channels, side, side])]);
  if (s.convChannels > 0) {
    const conv = (input: string, name: string, cin: number, cout: number) =>
      g.op(
        'Conv',
        [
          input,
          g.initializer(`${name}.weight`, init.truncNormal([cout, cin, 3, 3], 1 / Math.sqrt(9 * cin))),
          g.initializer(`${name}.bias`, init.zeros([cout])),
        ],
        { attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      );
    const c1 = g.op('Relu', [conv(image, 'dec.conv1', s.channels, s.convChannels)]);
    const c2 = g.op('Relu', [conv(c1, 'dec.conv2', s.convChannels, s.convChannels)]);
    image = g.op('Add', [image, conv(c2, 'dec.conv3', s.convChannels, s.channels)]);
  }
  g.op('Identity', [image], { outputs: [RECON] });
  g.output(valueInfo(RECON, DataType.FLOAT, ['batch', s.channels, side, side]));
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'splitflare-privacy',
    opsetImport: [{ domain: '', version: 20 }],
    graph: g.graph('decoder'),
  });
}

export interface DecoderTraining {
  /** Public images' activations as received (n × tokens × width) and their normalized pixels (n × C × H × W). */
  activations: Float32Array;
  pixels: Float32Array;
  n: number;
  /** Share of the public images held back to decide when training has converged. */
  validation: number;
  maxEpochs: number;
  /** Epochs without a better validation loss before stopping. */
  patience: number;
  batch: number;
  lr: number;
  seed: number;
  onEpoch?: (info: { epoch: number; train: number; validation: number }) => void;
}

export interface TrainedDecoder {
  decode(activations: Float32Array, n: number): Promise<Float32Array>;
  epochs: number;
  validationLoss: number;
  release(): Promise<void>;
}

/** Trains the decoder, keeping the parameters of its best validation epoch. */
export async function trainDecoder(shape: DecoderShape, t: DecoderTraining): Promise<TrainedDecoder> {
  const model = buildDecoder(shape, t.seed);
  const params: Record<string, Float32Array> = {};
  const dims: Record<string, number[]> = {};
  for (const init of model.graph!.initializer!) {
    if (!init.name!.startsWith('dec.')) continue;
    params[init.name!] = Float32Array.from(init.floatData ?? []);
    dims[init.name!] = (init.dims ?? []).map(Number);
  }
  for (const [name, d] of Object.entries(dims)) {
    if (params[name].length === 0) {
      const raw = model.graph!.initializer!.find((i) => i.name === name)!.rawData!;
      params[name] = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    }
    if (params[name].length !== d.reduce((a, b) => a * b, 1))
      throw new Error(`decoder: ${name} did not load`);
  }
  const gradModel = differentiate(model, { loss: 'mse', wrt: Object.keys(params) });
  const train = await ort.InferenceSession.create(encodeModel(gradModel), { intraOpNumThreads: 1 });
  // The forward graph with its parameters as inputs, as the gradient graph has them.
  const forward = onnx.ModelProto.decode(encodeModel(model));
  const graph = forward.graph!;
  graph.initializer = graph.initializer!.filter((i) => !(i.name! in params));
  for (const [name, d] of Object.entries(dims)) graph.input!.push(valueInfo(name, DataType.FLOAT, d));
  const infer = await ort.InferenceSession.create(encodeModel(forward), { intraOpNumThreads: 1 });
  const perAct = shape.tokens * shape.width;
  const side = shape.grid * shape.patch;
  const perImage = shape.channels * side * side;
  const order = shuffle(
    Array.from({ length: t.n }, (_, i) => i),
    mulberry32(t.seed),
  );
  const held = Math.max(1, Math.round(t.n * t.validation));
  const validIdx = order.slice(0, held);
  const trainIdx = order.slice(held);
  const gather = (idx: number[]) => {
    const a = new Float32Array(idx.length * perAct);
    const y = new Float32Array(idx.length * perImage);
    idx.forEach((i, k) => {
      a.set(t.activations.subarray(i * perAct, (i + 1) * perAct), k * perAct);
      y.set(t.pixels.subarray(i * perImage, (i + 1) * perImage), k * perImage);
    });
    return { a, y };
  };
  const feeds = (a: Float32Array, n: number, p: Record<string, Float32Array>) => {
    const f: Record<string, ort.Tensor> = {
      [ACTIVATION]: new ort.Tensor('float32', a, [n, shape.tokens, shape.width]),
    };
    for (const [name, v] of Object.entries(p)) f[name] = new ort.Tensor('float32', v, dims[name]);
    return f;
  };
  const decodeWith = async (p: Record<string, Float32Array>, a: Float32Array, n: number) =>
    (await infer.run(feeds(a, n, p)))[RECON].data as Float32Array;
  const validate = async (p: Record<string, Float32Array>) => {
    let se = 0;
    for (let from = 0; from < validIdx.length; from += 256) {
      const idx = validIdx.slice(from, from + 256);
      const { a, y } = gather(idx);
      const r = await decodeWith(p, a, idx.length);
      for (let i = 0; i < r.length; i++) se += (r[i] - y[i]) ** 2;
    }
    return se / (validIdx.length * perImage);
  };

  const optimizer = adamw({ lr: t.lr, weightDecay: 0 });
  const random = mulberry32(t.seed + 1);
  let best = { loss: await validate(params), params: structuredClone(params), epoch: 0 };
  let epoch = 0;
  for (; epoch < t.maxEpochs && epoch - best.epoch < t.patience; epoch++) {
    // Cosine decay over the epoch budget: the last epochs settle rather than wander.
    optimizer.lr = t.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / t.maxEpochs));
    const shuffled = shuffle([...trainIdx], random);
    let lossSum = 0;
    let batches = 0;
    for (let from = 0; from < shuffled.length; from += t.batch) {
      const idx = shuffled.slice(from, from + t.batch);
      const { a, y } = gather(idx);
      const out = await train.run({
        ...feeds(a, idx.length, params),
        targets: new ort.Tensor('float32', y, [idx.length, shape.channels, side, side]),
      });
      const grads = Object.fromEntries(
        Object.keys(params).map((k) => [k, out[`grad.${k}`].data as Float32Array]),
      );
      optimizer.step(params, grads);
      lossSum += (out.loss.data as Float32Array)[0];
      batches++;
    }
    const validation = await validate(params);
    t.onEpoch?.({ epoch: epoch + 1, train: lossSum / batches, validation });
    if (validation < best.loss)
      best = { loss: validation, params: structuredClone(params), epoch: epoch + 1 };
  }
  await train.release();
  return {
    decode: (a, n) => decodeWith(best.params, a, n),
    epochs: epoch,
    validationLoss: best.loss,
    release: () => infer.release(),
  };
}
