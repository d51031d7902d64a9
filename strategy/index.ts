// The federated strategy, apart from transport (Flower's Strategy is the
// model): select who trains a round, configure what they get, admit and
// aggregate what they send, decide what the round publishes. The coordinator
// Durable Object calls it with what it keeps in storage; the baseline
// simulator calls it with what it keeps in memory.
export { deltaNorm, refusal } from './admit.js';
export {
  type AggregateOptions,
  type Aggregation,
  type AggregationSummary,
  aggregate,
  type ClientUpdate,
  keepsUpdates,
  type RoundUpdates,
  type Slicing,
} from './aggregate.js';
export { lrFactor, roundOptimizers, scheduledOptimizer } from './configure.js';
export { holdsBack, type RoundEnd, roundEnd } from './decide.js';
export { accumulate, finalize } from './fedavg.js';
export {
  epsilonFromRdp,
  epsilonSpent,
  type PrivateRound,
  RDP_ORDERS,
  sampledGaussianRdp,
} from './privacy/accountant.js';
export { addGaussian, cryptoUniform, normalStream, type Uniform } from './privacy/gaussian.js';
export { clipNorm, clipScale, quantileOf } from './robust/clip.js';
export { multiKrum, PairwiseDistances } from './robust/krum.js';
export { coordinateMedian } from './robust/median.js';
export { trimCount, trimmedMean } from './robust/trimmed-mean.js';
export { roundSeed, selectDevices } from './select.js';
