// Optimizers over named Float32Array parameters, with PyTorch semantics and
// serializable state. Runtime-neutral: browsers, Node and workerd.
import { AdamW } from './adamw.js';
import type { Optimizer } from './optimizer.js';
import { Sgd } from './sgd.js';
import { type OptimizerState, validateState } from './state.js';

export { AdamW, adamw } from './adamw.js';
export type { Tensors } from './check.js';
export {
  DEFAULT_CHUNK_BYTES,
  decodeOptimizerState,
  decodeOptimizerStateChunks,
  encodeOptimizerState,
  encodeOptimizerStateChunks,
} from './codec.js';
export { OptimizerError, type OptimizerErrorCode } from './errors.js';
export type { AdamWHyper, AdamWOptions, SgdHyper, SgdOptions } from './hyper.js';
export { type OptimizerStateJson, optimizerStateFromJson, optimizerStateToJson } from './json.js';
export type { Optimizer } from './optimizer.js';
export { Sgd, sgd } from './sgd.js';
export type { AdamWState, OptimizerKind, OptimizerState, ParamState, SgdState } from './state.js';

/** An optimizer of the state's kind and hyperparameters, continuing from it. */
export function fromState(state: OptimizerState): Optimizer {
  const s = validateState(state);
  const opt = s.kind === 'sgd' ? new Sgd(s.hyper) : new AdamW(s.hyper);
  opt.load(s);
  return opt;
}
