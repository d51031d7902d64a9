// Validation of one step's inputs, done in full before anything is written:
// a rejected step leaves params and optimizer state exactly as they were.
import { OptimizerError } from './errors.js';

export type Tensors = Readonly<Record<string, Float32Array>>;

const list = (names: string[]) => names.map((n) => JSON.stringify(n)).join(', ');

function sameNames(what: string, have: string[], want: ReadonlySet<string>, wantLabel: string): void {
  const haveSet = new Set(have);
  const missing = [...want].filter((n) => !haveSet.has(n));
  const extra = have.filter((n) => !want.has(n));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 && `missing ${list(missing)}`,
      extra.length > 0 && `unexpected ${list(extra)}`,
    ];
    throw new OptimizerError(
      'name_mismatch',
      `${what} do not match ${wantLabel}: ${parts.filter(Boolean).join('; ')}`,
    );
  }
}

/**
 * Checks params against grads (same names, same lengths, Float32Array, finite
 * gradients) and against the sizes the optimizer already holds state for, if
 * any. Returns the parameter names in the order of `params`.
 */
export function checkStep(
  params: Tensors,
  grads: Tensors,
  known: ReadonlyMap<string, number> | null,
): string[] {
  const names = Object.keys(params);
  if (names.length === 0) throw new OptimizerError('name_mismatch', 'step needs at least one parameter');
  sameNames('gradients', Object.keys(grads), new Set(names), 'parameters');
  if (known) sameNames('parameters', names, new Set(known.keys()), 'the optimizer state');
  for (const name of names) {
    const p = params[name];
    const g = grads[name];
    if (!(p instanceof Float32Array)) throw new TypeError(`parameter ${name} is not a Float32Array`);
    if (!(g instanceof Float32Array)) throw new TypeError(`gradient ${name} is not a Float32Array`);
    if (g.length !== p.length) {
      throw new OptimizerError(
        'shape_mismatch',
        `gradient ${name} has ${g.length} elements, the parameter ${p.length}`,
      );
    }
    const size = known?.get(name);
    if (size !== undefined && size !== p.length) {
      throw new OptimizerError(
        'shape_mismatch',
        `parameter ${name} has ${p.length} elements, its optimizer state ${size}`,
      );
    }
  }
  for (const name of names) {
    const g = grads[name];
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) {
        throw new OptimizerError(
          'non_finite_gradient',
          `gradient ${name}[${i}] is ${g[i]}; no parameter was updated`,
        );
      }
    }
  }
  return names;
}
