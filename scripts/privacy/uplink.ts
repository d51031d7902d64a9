// What the server receives from a device: the head's activation of each
// image, put on the wire exactly as the SDK does (its wire settings, the
// frame codec) and decoded as the Worker does. The attacks start from this.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { resolveWire } from '../../client-sdk/manifest-check.js';
import type { Encoding } from '../../protocol/encoding.js';
import { decodeFrame, encodeFrame } from '../../protocol/frame.js';
import type { Manifest } from '../../protocol/manifest.js';
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

/** The activation of `n` images as the Worker decodes it after the device sent it with `encoding`. */
export async function uplink(
  head: Head,
  manifest: Manifest,
  pixels: Float32Array,
  n: number,
  encoding: Encoding,
): Promise<Float32Array> {
  const activation = await head.run(pixels, n);
  const wire = resolveWire(manifest, { encoding });
  const frame = encodeFrame({ shape: [n, ...head.cutShape], data: activation }, wire);
  return decodeFrame(frame).data;
}
