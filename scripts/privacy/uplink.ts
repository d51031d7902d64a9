// What the server receives from a device: the head's activation of each
// image, put on the wire exactly as the SDK does (its wire settings, the
// frame codec) and decoded as the Worker does. The attacks start from this.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { resolveWire } from '../../client-sdk/manifest-check.js';
import { argmaxRows } from '../../common/predictions.js';
import { mulberry32 } from '../../common/random.js';
import type { Encoding } from '../../protocol/encoding.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import type { Manifest } from '../../protocol/manifest.js';
import { addTokenNoise } from '../../protocol/token-noise.js';
import { readTrainables } from '../../protocol/update.js';
import type { HeadFn } from './analytic.js';

export interface Head {
  run: HeadFn;
  /** Values per image at the cut (tokens × width). */
  cutShape: number[];
  release(): Promise<void>;
}

/** The model's public head on onnxruntime-node, as a function of normalized pixels. */
export async function loadHead(artifactsDir: string, manifest: Manifest): Promise<Head> {
  const session = await ort.InferenceSession.create(join(artifactsDir, manifest.artifacts.head.file));
  const [, ...sample] = manifest.input.shape as (number | string)[];
  const cutShape = (manifest.cut.tensor.shape as (number | string)[]).slice(1) as number[];
  return {
    cutShape,
    async run(pixels, n) {
      const input = new ort.Tensor('float32', pixels, [n, ...(sample as number[])]);
      const out = await session.run({ [manifest.input.name]: input });
      return out[manifest.cut.tensor.name].data as Float32Array;
    },
    release: () => session.release(),
  };
}

/**
 * A trained head: the model's training forward graph (pixels + head
 * trainables → cut) with the head trainables from `adapters` (a version's
 * safetensors, both sides or the head's), as a curious server holding that
 * published version runs it.
 */
export async function loadTrainedHead(
  artifactsDir: string,
  manifest: Manifest,
  adapters: Uint8Array,
): Promise<Head> {
  const training = manifest.training;
  if (!training) throw new Error(`${manifest.modelId} was not built for training: it has no trained head`);
  const specs = training.trainables.filter((t) => t.owner === 'head');
  const tailNames = training.trainables.filter((t) => t.owner === 'tail').map((t) => t.name);
  const params = readTrainables(adapters, specs, { ignore: tailNames });
  const session = await ort.InferenceSession.create(join(artifactsDir, training.artifacts.headForward.file));
  const [, ...sample] = manifest.input.shape as (number | string)[];
  const cutShape = (manifest.cut.tensor.shape as (number | string)[]).slice(1) as number[];
  const feeds = Object.fromEntries(
    specs.map((t) => [t.name, new ort.Tensor('float32', params.get(t.name)!, t.shape)]),
  );
  return {
    cutShape,
    async run(pixels, n) {
      const input = new ort.Tensor('float32', pixels, [n, ...(sample as number[])]);
      const out = await session.run({ ...feeds, [manifest.input.name]: input });
      return out[manifest.cut.tensor.name].data as Float32Array;
    },
    release: () => session.release(),
  };
}

/**
 * The activation of `n` images as the Worker decodes it after the device
 * sent it with `encoding`, with per-token noise σ `noise` added first (seeded
 * here so measurements repeat; devices draw from a CSPRNG).
 */
export async function uplink(
  head: Head,
  manifest: Manifest,
  pixels: Float32Array,
  n: number,
  encoding: Encoding,
  noise = 0,
  seed = 0,
): Promise<Float32Array> {
  const activation = await head.run(pixels, n);
  addTokenNoise(activation, head.cutShape[head.cutShape.length - 1], noise, mulberry32(seed));
  const wire = resolveWire(manifest, { encoding });
  const frame = encodeFrame({ shape: [n, ...head.cutShape], data: activation }, wire);
  return decodeFrame(frame).data;
}

export interface Tail {
  /** Held-out accuracy of the base model on received activations (n × cut) with their labels. */
  accuracy(activations: Float32Array, n: number, labels: Int32Array): Promise<number>;
  release(): Promise<void>;
}

/** The model's unsplit tail on onnxruntime-node, to score what the server receives. */
export async function loadTail(artifactsDir: string, manifest: Manifest): Promise<Tail> {
  const file = manifest.artifacts.tail?.file;
  if (!file) throw new Error(`${manifest.modelId} has no unsplit tail.onnx to score with`);
  const session = await ort.InferenceSession.create(join(artifactsDir, file));
  const cut = (manifest.cut.tensor.shape as number[]).slice(1);
  const classes = manifest.output.shape[manifest.output.shape.length - 1] as number;
  return {
    async accuracy(activations, n, labels) {
      let correct = 0;
      const per = cut.reduce((a, b) => a * b, 1);
      for (let from = 0; from < n; from += 500) {
        const m = Math.min(500, n - from);
        const input = new ort.Tensor('float32', activations.subarray(from * per, (from + m) * per), [
          m,
          ...cut,
        ]);
        const out = await session.run({ [manifest.cut.tensor.name]: input });
        const predicted = argmaxRows(out[manifest.output.name].data as Float32Array, classes);
        for (let i = 0; i < m; i++) if (predicted[i] === labels[from + i]) correct++;
      }
      return correct / n;
    },
    release: () => session.release(),
  };
}
