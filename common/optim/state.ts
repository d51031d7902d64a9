// The optimizer state as plain data: what `state()` returns, `load()` accepts
// and the codecs (bytes, JSON) carry. Float32 buffers are exact, so a run
// restored from a state continues bit-for-bit like an uninterrupted one.
import { OptimizerError } from './errors.js';
import { type AdamWHyper, resolveAdamW, resolveSgd, type SgdHyper } from './hyper.js';

export type OptimizerKind = 'sgd' | 'adamw';

export interface ParamState {
  /** Element count of the parameter. */
  size: number;
  /** Per-parameter buffers by their PyTorch names (`momentum_buffer`, `exp_avg`, `exp_avg_sq`). */
  buffers: Record<string, Float32Array>;
}

interface StateBase {
  version: 1;
  /** Completed steps. 0 means no step yet, and then `params` is empty. */
  step: number;
  params: Record<string, ParamState>;
}

export interface SgdState extends StateBase {
  kind: 'sgd';
  hyper: SgdHyper;
}

export interface AdamWState extends StateBase {
  kind: 'adamw';
  hyper: AdamWHyper;
}

export type OptimizerState = SgdState | AdamWState;

export const STATE_VERSION = 1;

/** Buffers each parameter carries once it has been stepped. */
export function bufferKeys(
  s: Pick<SgdState, 'kind' | 'hyper'> | Pick<AdamWState, 'kind' | 'hyper'>,
): string[] {
  if (s.kind === 'adamw') return ['exp_avg', 'exp_avg_sq'];
  return s.hyper.momentum > 0 ? ['momentum_buffer'] : [];
}

function bad(message: string): never {
  throw new OptimizerError('invalid_state', `optimizer state: ${message}`);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function resolveHyper(kind: OptimizerKind, hyper: unknown): SgdHyper | AdamWHyper {
  if (!isRecord(hyper)) bad('hyper is missing');
  try {
    return kind === 'sgd'
      ? resolveSgd(hyper as unknown as SgdHyper)
      : resolveAdamW(hyper as unknown as AdamWHyper);
  } catch (e) {
    bad((e as Error).message);
  }
}

/**
 * Checks everything a state must satisfy before an optimizer adopts it and
 * returns it normalised (buffers are not copied). Anything from storage or
 * the network goes through here: a corrupt state never reaches a step.
 */
export function validateState(s: unknown): OptimizerState {
  if (!isRecord(s)) bad('not an object');
  if (s.version !== STATE_VERSION) bad(`unknown version ${String(s.version)}`);
  if (s.kind !== 'sgd' && s.kind !== 'adamw') bad(`unknown kind ${String(s.kind)}`);
  const kind = s.kind;
  const hyper = resolveHyper(kind, s.hyper);
  const step = s.step;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)
    bad(`step ${String(step)} is not an integer >= 0`);
  if (!isRecord(s.params)) bad('params is missing');
  const names = Object.keys(s.params);
  if ((step === 0) !== (names.length === 0)) bad(`step ${step} with ${names.length} parameter(s)`);
  const keys = bufferKeys({ kind, hyper } as OptimizerState);
  const params: Array<[string, ParamState]> = [];
  for (const name of names) {
    const p = s.params[name];
    if (!isRecord(p) || !isRecord(p.buffers)) bad(`parameter ${name} is malformed`);
    const size = p.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      bad(`parameter ${name} has size ${String(size)}`);
    const got = Object.keys(p.buffers).sort();
    if (got.join(',') !== [...keys].sort().join(',')) {
      bad(`parameter ${name} has buffers [${got}], ${kind} needs [${keys}]`);
    }
    for (const key of keys) {
      const buf = p.buffers[key];
      if (!(buf instanceof Float32Array) || buf.length !== size)
        bad(`${name}.${key} is not a Float32Array of ${size}`);
      for (let i = 0; i < buf.length; i++)
        if (!Number.isFinite(buf[i])) bad(`${name}.${key}[${i}] is not finite`);
    }
    params.push([name, { size, buffers: p.buffers as Record<string, Float32Array> }]);
  }
  // fromEntries defines own properties, so even a parameter named __proto__ survives.
  return { version: STATE_VERSION, kind, hyper, step, params: Object.fromEntries(params) } as OptimizerState;
}
