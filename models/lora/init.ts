// Initial adapter values. The standard LoRA start: A random, B zero, so the
// adapted model begins exactly at the base model while A still gives B a
// non-zero gradient on the first step.
//
// A ~ U(-1/sqrt(in), 1/sqrt(in)): what PEFT and loralib do
// (kaiming_uniform_(a=sqrt(5)) on an [r, in] matrix has exactly that bound),
// so learning rates tuned on PyTorch LoRA transfer. Each adapter draws from its
// own stream, seeded by (seed, weight name): adding or removing a target never
// changes the other adapters' starting values, and any party that knows the
// seed and the spec can regenerate them instead of shipping them.
import { mulberry32 } from '../../common/random.js';
import { float32 } from '../onnx/tensor.js';
import type { FloatTensor } from './types.js';

/** FNV-1a over the name's UTF-16 code units, mixed with the caller's seed. */
export function adapterSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
}

/** A: [rank, inDim], uniform in ±1/sqrt(inDim). */
export function initLoraA(seed: number, base: string, rank: number, inDim: number): FloatTensor {
  const uniform = mulberry32(adapterSeed(seed, base));
  const bound = 1 / Math.sqrt(inDim);
  const t = float32([rank, inDim]) as FloatTensor;
  for (let i = 0; i < t.data.length; i++) t.data[i] = (2 * uniform() - 1) * bound;
  return t;
}

/** B: [outDim, rank], zeros. */
export function initLoraB(outDim: number, rank: number): FloatTensor {
  return float32([outDim, rank]) as FloatTensor;
}
