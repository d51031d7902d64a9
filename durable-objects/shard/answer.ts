// A training step's answer as stored for replay: the gradient of the step's
// input, and on the last shard the loss and logits. Shards keep their last
// one; a shared tail (durable-objects/session/shared-tail.ts) keeps each
// device's last one.
import { decodeSafetensors, encodeSafetensors } from '../../common/safetensors.js';
import type { Activation } from '../../edge/shard-runtime.js';
import type { TrainValue } from './tail-shard.js';

export function encodeAnswer(a: TrainValue): Uint8Array {
  const tensors = new Map([
    ['gradInput', { dtype: 'float32' as const, dims: a.gradInput.shape, data: a.gradInput.data }],
  ]);
  if (a.logits) tensors.set('logits', { dtype: 'float32', dims: a.logits.shape, data: a.logits.data });
  // The loss travels as text in the metadata: a float32 tensor would round the replayed value.
  return encodeSafetensors(tensors, a.loss !== undefined ? { loss: String(a.loss) } : {});
}

export function decodeAnswer(bytes: Uint8Array): TrainValue {
  const { tensors: t, metadata } = decodeSafetensors(bytes);
  const tensor = (name: string): Activation | undefined => {
    const v = t.get(name);
    return v && v.dtype === 'float32' ? { shape: v.dims, data: v.data } : undefined;
  };
  const gradInput = tensor('gradInput');
  if (!gradInput) throw new Error('a stored shard answer has no gradInput');
  return {
    gradInput,
    ...(metadata.loss !== undefined ? { loss: Number(metadata.loss) } : {}),
    ...(tensor('logits') ? { logits: tensor('logits') } : {}),
  };
}
