// Shared fixtures for the model-toolkit tests: the torchvision exports, their
// reference batch, and a small ORT runner.
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../../models/io/safetensors.js';
import { encodeModel, loadModel, type ModelProto } from '../../../models/onnx/index.js';
import type { HostTensor } from '../../../models/onnx/tensor.js';

export const TESTDATA = new URL('../../../../shared/testdata/torchvision-vit/', import.meta.url).pathname;
export const TV_MODELS = ['tv_vit_tiny_op14.onnx', 'tv_vit_tiny_op17.onnx'] as const;

export async function loadTorchvision(file: string): Promise<ModelProto> {
  return loadModel(`${TESTDATA}${file}`);
}

let reference: Promise<Map<string, HostTensor>> | undefined;
export function torchvisionReference(): Promise<Map<string, HostTensor>> {
  reference ??= readSafetensors(`${TESTDATA}tv_vit_tiny_reference.safetensors`);
  return reference;
}

export function toOrt(t: HostTensor): ort.Tensor {
  if (t.dtype === 'float32') return new ort.Tensor('float32', t.data, t.dims);
  if (t.dtype === 'int64') return new ort.Tensor('int64', t.data, t.dims);
  throw new Error(`no ORT conversion for ${t.dtype}`);
}

/** Runs a model once and returns all outputs. */
export async function run(
  model: ModelProto,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Deterministic pseudo-random pixels. */
export function pixels(dims: number[], seed = 1): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233)),
    dims,
  );
}
