// One error type with a stable code, so a Worker can map a bad client update
// or a corrupt stored state to the right problem+json type without parsing
// messages.

export type OptimizerErrorCode =
  /** A hyperparameter is out of range. */
  | 'invalid_options'
  /** params and grads (or the optimizer's state) name different tensors. */
  | 'name_mismatch'
  /** A gradient, parameter or buffer has the wrong length. */
  | 'shape_mismatch'
  /** A gradient holds NaN or ±Infinity; nothing was updated. */
  | 'non_finite_gradient'
  /** A serialized or in-memory state is malformed, corrupt or of an unknown version. */
  | 'invalid_state';

export class OptimizerError extends Error {
  override readonly name = 'OptimizerError';
  constructor(
    readonly code: OptimizerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
