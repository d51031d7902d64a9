import type { GradRule } from '../rule.js';
import { scalarConstant } from './common.js';

/**
 * Dropout as exported for inference (no training_mode, or a constant false)
 * is the identity. A training-mode dropout would need its mask, which the
 * forward graph does not expose deterministically: refuse it.
 */
export const dropout: GradRule = {
  saves: {},
  differentiable: [0],
  backward(ctx) {
    if (ctx.hasInput(2) && scalarConstant(ctx, 2) !== 0) {
      ctx.fail('training-mode Dropout is not supported; export the model in eval mode');
    }
    return [ctx.grad(0)!];
  },
};
