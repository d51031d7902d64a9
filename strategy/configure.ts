// How the coordinator configures each round's clients, kept apart from the
// round bookkeeping and from transport: the optimizers a round hands out. The
// aggregation half of the strategy is fedavg.ts.
import type { FederationConfig, LrSchedule, OptimizerConfig } from '../protocol/federation.js';

/**
 * The factor a round's learning rate is scaled by. Cosine runs from 1 at the
 * first round to `floor` at the last, per round rather than per step: every
 * client of a round trains with one rate, so the round stays a single
 * well-defined point on the schedule whatever each client's data size.
 */
export function lrFactor(schedule: LrSchedule | undefined, round: number, rounds: number): number {
  if (!schedule || schedule.kind === 'constant') return 1;
  const t = Math.min(1, round / Math.max(1, rounds - 1));
  return schedule.floor + (1 - schedule.floor) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** `optimizer` with its rate scaled for `round`. */
export function scheduledOptimizer(
  optimizer: OptimizerConfig,
  schedule: LrSchedule | undefined,
  round: number,
  rounds: number,
): OptimizerConfig {
  return { ...optimizer, lr: optimizer.lr * lrFactor(schedule, round, rounds) };
}

/** The head and tail optimizers of `round`. */
export function roundOptimizers(
  config: Pick<FederationConfig, 'headOptimizer' | 'tailOptimizer' | 'rounds'> & {
    // Federations created before schedules existed have none stored: constant.
    lrSchedule?: LrSchedule;
  },
  round: number,
): { head: OptimizerConfig; tail: OptimizerConfig } {
  return {
    head: scheduledOptimizer(config.headOptimizer, config.lrSchedule, round, config.rounds),
    tail: scheduledOptimizer(config.tailOptimizer, config.lrSchedule, round, config.rounds),
  };
}
