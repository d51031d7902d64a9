// What SGD and AdamW share: the Optimizer interface, per-parameter buffers,
// the step counter, and state snapshots. Subclasses only write the update.
import { checkStep, type Tensors } from './check.js';
import { OptimizerError } from './errors.js';
import { type AdamWHyper, checkLr, type SgdHyper } from './hyper.js';
import { type OptimizerKind, type OptimizerState, type ParamState, validateState } from './state.js';

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** A copy of the hyperparameters in effect. */
  readonly hyper: Readonly<SgdHyper> | Readonly<AdamWHyper>;
  /** Completed steps. */
  readonly stepCount: number;
  /** Settable between steps, for learning-rate schedules. */
  lr: number;
  /**
   * Updates every params[name] in place from grads[name]. The names (and
   * lengths) must match each other and, after the first step, the names the
   * optimizer holds state for. On any error nothing is modified.
   */
  step(params: Tensors, grads: Tensors): void;
  /** A deep copy of the state: later steps do not change it. */
  state(): OptimizerState;
  /** Adopts a state (hyperparameters included, as torch's load_state_dict does); copies it. */
  load(state: OptimizerState): void;
}

const copyBuffers = (b: Record<string, Float32Array>) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.slice()]));

export abstract class SlotOptimizer<S extends OptimizerState> implements Optimizer {
  abstract readonly kind: S['kind'];
  protected h: S['hyper'];
  private t = 0;
  private slots = new Map<string, ParamState>();

  constructor(hyper: S['hyper']) {
    this.h = hyper;
  }

  get hyper(): S['hyper'] {
    return { ...this.h };
  }

  get stepCount(): number {
    return this.t;
  }

  get lr(): number {
    return this.h.lr;
  }

  set lr(value: number) {
    this.h = { ...this.h, lr: checkLr(value) };
  }

  /**
   * One parameter's update at step `t` (1-based). `buffers` is empty on the
   * parameter's first step; the update creates what it needs.
   */
  protected abstract update(
    p: Float32Array,
    g: Float32Array,
    buffers: Record<string, Float32Array>,
    t: number,
  ): void;

  step(params: Tensors, grads: Tensors): void {
    const known = this.t > 0 ? new Map([...this.slots].map(([n, s]) => [n, s.size])) : null;
    const names = checkStep(params, grads, known);
    const t = this.t + 1;
    for (const name of names) {
      const p = params[name];
      const slot = this.slots.get(name) ?? { size: p.length, buffers: {} };
      this.update(p, grads[name], slot.buffers, t);
      this.slots.set(name, slot);
    }
    this.t = t;
  }

  state(): S {
    const params = Object.fromEntries(
      [...this.slots].map(([n, s]) => [n, { size: s.size, buffers: copyBuffers(s.buffers) }]),
    );
    return { version: 1, kind: this.kind, hyper: { ...this.h }, step: this.t, params } as S;
  }

  load(state: OptimizerState): void {
    const s = validateState(state);
    if (s.kind !== this.kind) {
      throw new OptimizerError(
        'invalid_state',
        `cannot load a state of kind ${s.kind} into the ${this.kind} optimizer`,
      );
    }
    this.h = { ...s.hyper } as S['hyper'];
    this.t = s.step;
    this.slots = new Map(
      Object.entries(s.params).map(([n, p]) => [n, { size: p.size, buffers: copyBuffers(p.buffers) }]),
    );
  }
}
