// The body of `federation create`: the simulator's defaults, under a config
// file (a FederationConfig, whole or in part), under the flags. It is checked
// with the very schema the Worker validates it with (CreateFederationBody),
// so a bad config fails here, with every issue named, before any request.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CreateFederationBody } from '../protocol/api.js';
import type { Encoding } from '../protocol/encoding.js';
import type { FederationConfigInput, StrategyConfig } from '../protocol/federation.js';
import { lrSchedule, optimizerConfig, SIM_DEFAULTS } from '../scripts/sim/config.js';
import { UsageError } from './errors.js';

/** What the flags of `federation create` may set; each one overrides the file. */
export interface ConfigFlags {
  model?: string;
  rounds?: number;
  perRound?: number;
  quorum?: number;
  deadline?: number;
  localEpochs?: number;
  batch?: number;
  uplink?: Encoding;
  downlink?: Encoding;
  budget?: number;
  optimizer?: 'sgd' | 'adamw';
  lrHead?: number;
  lrTail?: number;
  momentum?: number;
  lrSchedule?: 'constant' | 'cosine';
  strategy?: StrategyConfig['kind'];
  secureAggregation?: boolean;
  activationNoise?: number;
  decorrelation?: number;
  evaluator?: string;
  seed?: number;
}

type Optimizer = FederationConfigInput['headOptimizer'];

/** What a federation gets unless the file or the flags say otherwise (the model excepted: always the operator's choice). */
function defaults(): Omit<FederationConfigInput, 'modelId' | 'quorum'> {
  const d = SIM_DEFAULTS;
  return {
    rounds: d.rounds,
    clientsPerRound: d.perRound,
    roundDeadlineSeconds: d.deadlineSeconds,
    localEpochs: d.localEpochs,
    batchSize: d.batch,
    uplink: d.uplink,
    downlink: d.downlink,
    budgetBytesPerRound: d.budgetBytes,
    headOptimizer: optimizerConfig(d, d.lrHead),
    tailOptimizer: optimizerConfig(d, d.lrTail),
    lrSchedule: lrSchedule(d.lrSchedule),
  };
}

/** Reads a config file: JSON holding a FederationConfig or part of one. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = z.record(z.string(), z.unknown()).safeParse(value);
  if (!parsed.success) throw new UsageError(`${path} must hold a JSON object (a federation config)`);
  return parsed.data;
}

/** The optimizer `current` becomes under the flags that concern it. */
function withOptimizerFlags(current: Optimizer, lr: number | undefined, flags: ConfigFlags): Optimizer {
  let next: Optimizer = current;
  if (flags.optimizer !== undefined && flags.optimizer !== current?.kind) {
    next = optimizerConfig(
      { optimizer: flags.optimizer, momentum: flags.momentum ?? SIM_DEFAULTS.momentum },
      current?.lr ?? SIM_DEFAULTS.lrHead,
    );
  }
  if (flags.momentum !== undefined) {
    if (next?.kind !== 'sgd') throw new UsageError('--momentum applies to the sgd optimizer only');
    next = { ...next, momentum: flags.momentum };
  }
  return lr === undefined ? next : { ...next, lr };
}

/** The config file and flags merged over the defaults; not yet validated. */
export function mergeConfig(file: Record<string, unknown>, flags: ConfigFlags): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...defaults(), ...file };
  const set = (key: keyof FederationConfigInput, value: unknown) => {
    if (value !== undefined) merged[key] = value;
  };
  set('modelId', flags.model);
  set('rounds', flags.rounds);
  set('clientsPerRound', flags.perRound);
  set('quorum', flags.quorum);
  set('roundDeadlineSeconds', flags.deadline);
  set('localEpochs', flags.localEpochs);
  set('batchSize', flags.batch);
  set('uplink', flags.uplink);
  set('downlink', flags.downlink);
  set('budgetBytesPerRound', flags.budget);
  set('lrSchedule', flags.lrSchedule && lrSchedule(flags.lrSchedule));
  set('strategy', flags.strategy && { kind: flags.strategy });
  set('secureAggregation', flags.secureAggregation ? (merged.secureAggregation ?? {}) : undefined);
  set('activationNoise', flags.activationNoise);
  set('decorrelation', flags.decorrelation);
  set('evaluator', flags.evaluator);
  set('seed', flags.seed);
  merged.headOptimizer = withOptimizerFlags(merged.headOptimizer as Optimizer, flags.lrHead, flags);
  merged.tailOptimizer = withOptimizerFlags(merged.tailOptimizer as Optimizer, flags.lrTail, flags);
  // As the simulator chooses it: a round publishes once 80% of its devices have submitted.
  if (merged.quorum === undefined && typeof merged.clientsPerRound === 'number') {
    merged.quorum = Math.max(1, Math.ceil(0.8 * merged.clientsPerRound));
  }
  return merged;
}

/** The validated request body, or a UsageError naming every issue. */
export function federationBody(
  id: string,
  file: Record<string, unknown>,
  flags: ConfigFlags,
): { id: string; config: FederationConfigInput } {
  const config = mergeConfig(file, flags);
  const checked = CreateFederationBody.safeParse({ id, config });
  if (!checked.success) throw new UsageError('invalid federation; nothing was sent', checked.error);
  // The Worker fills in its own defaults: send what the operator chose, not this side's reading of it.
  return { id, config: config as FederationConfigInput };
}
