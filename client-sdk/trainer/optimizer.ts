// The head's optimizer as the ticket prescribes it, fresh each round: in SFL
// V1 every round restarts from the published adapters, and momentum carried
// over from a different starting point would point the wrong way.
import { adamw, type Optimizer, sgd } from '../../common/optim/index.js';
import type { OptimizerConfig } from '../../protocol/federation.js';

export function headOptimizer(config: OptimizerConfig): Optimizer {
  return config.kind === 'sgd'
    ? sgd({ lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay })
    : adamw({ lr: config.lr, weightDecay: config.weightDecay });
}
