// A published version as one plain ONNX model for use anywhere: the unsplit
// model adapted exactly as its training artifacts were (the manifest's LoRA
// targets, rank, alpha and full-mode parameters), then the version's values
// of every trainable, head and tail side, folded in (lora/merge.ts). The
// result has no adapter inputs and runs on any ONNX runtime.
import type { TrainingSpec } from '../../protocol/manifest.js';
import { injectLora, mergeAdapters, type TrainableValues } from '../lora/index.js';
import type { ModelProto } from '../onnx/proto.js';

export function exportVersion(base: ModelProto, training: TrainingSpec, values: TrainableValues): ModelProto {
  const { lora } = training;
  const injected = injectLora(base, {
    targets: lora.targets.map((s) => new RegExp(s)),
    full: lora.full.map((s) => new RegExp(s)),
    rank: lora.rank,
    alpha: lora.alpha,
    seed: lora.seed,
  });
  const expected = training.trainables.map((t) => t.name).sort();
  const found = injected.adapters.map((a) => a.name).sort();
  if (expected.join('\n') !== found.join('\n')) {
    const missing = expected.filter((n) => !found.includes(n));
    const extra = found.filter((n) => !expected.includes(n));
    throw new Error(
      `the model does not take the manifest's trainables (missing ${missing.slice(0, 3).join(', ') || 'none'}, ` +
        `unexpected ${extra.slice(0, 3).join(', ') || 'none'}): is it the model this manifest was built from?`,
    );
  }
  return mergeAdapters(injected.model, values);
}
