// The tail optimizer from the federation's config (protocol/federation.ts).
import { adamw, type Optimizer, sgd } from '../common/optim/index.js';
import type { OptimizerConfig } from '../protocol/federation.js';

export function optimizerFor(config: OptimizerConfig): Optimizer {
  return config.kind === 'sgd'
    ? sgd({ lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay })
    : adamw({ lr: config.lr, weightDecay: config.weightDecay });
}
