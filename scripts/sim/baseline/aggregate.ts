// FedAvg over whole-model adapter updates with the coordinator's own
// arithmetic (strategy/fedavg.ts): updates are folded into
// float64 sums as they arrive, weighted by sample counts, and rounded to
// float32 once, so the baseline averages exactly as the split federation does.
import { accumulate, finalize } from '../../../strategy/fedavg.js';
import { numel } from '../../../models/onnx/tensor.js';
import type { TrainableSpec } from '../../../protocol/manifest.js';
import type { Params } from './model.js';

export interface RoundAggregator {
  /** Folds in one participant's trained trainables. */
  add(params: Params, samples: number): void;
  readonly participants: number;
  readonly samples: number;
  /** The sample-weighted mean of everything added. */
  result(): Params;
}

export function roundAggregator(specs: readonly TrainableSpec[]): RoundAggregator {
  const sums = new Map(specs.map((s) => [s.name, new Float64Array(numel(s.shape))] as const));
  let participants = 0;
  let samples = 0;
  return {
    add(params, weight) {
      const missing = specs.find((s) => !params[s.name]);
      if (missing) throw new Error(`fedavg: the update lacks ${missing.name}`);
      // Check every tensor before touching the sums, so a bad update leaves them as they were.
      for (const s of specs) {
        const got = params[s.name].data.length;
        if (got !== sums.get(s.name)!.length) {
          throw new RangeError(`fedavg: ${s.name} has ${got} values, expected ${sums.get(s.name)!.length}`);
        }
      }
      for (const s of specs) accumulate(sums.get(s.name)!, params[s.name].data, weight);
      participants++;
      samples += weight;
    },
    get participants() {
      return participants;
    },
    get samples() {
      return samples;
    },
    result() {
      const out: Params = {};
      for (const s of specs) out[s.name] = { dims: [...s.shape], data: finalize(sums.get(s.name)!, samples) };
      return out;
    },
  };
}
