// Types shared by the injection, the trainables report and the merge.
import type { HostTensor } from '../onnx/tensor.js';

/** Trainable values are always float32. */
export type FloatTensor = Extract<HostTensor, { dtype: 'float32' }>;

export type TrainableRole = 'lora_A' | 'lora_B' | 'full';

/** One trainable graph input. */
export interface AdapterSpec {
  /** Graph input name: `<base>.lora_A`, `<base>.lora_B`, or the parameter's own name in full mode. */
  name: string;
  shape: number[];
  /** The weight it adapts (for `full`: its own name). */
  base: string;
  role: TrainableRole;
}
