// What a baseline run produced: the simulator's result shape, so the two are
// read by the same code (the experiment table), with the baseline's own
// config and, per round, what admission and the strategy did.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AggregationSummary } from '../../../strategy/aggregate.js';
import type { RoundResult, SimResults } from '../results.js';
import type { Refused } from './aggregate.js';
import type { BaselineConfig } from './config.js';

export interface BaselineRound
  extends Omit<RoundResult, 'accuracy' | 'latency_s' | 'energy_j' | 'encodings' | 'planned_latency_s'> {
  /** Held-out accuracy of `version`; null for a round not scored (--eval-every). */
  accuracy: number | null;
  /** Devices selected (and sent the version) this round. */
  selected: number;
  /** How many of them were malicious. */
  malicious: number;
  /** Updates the server refused, and why: they are not aggregated. */
  refused: number;
  refusals: Refused[];
  /** Selected devices with nothing to send: local training diverged on a broken version. */
  lost: number;
  /** What the strategy did; null when no update was admitted and the round failed. */
  aggregation: AggregationSummary | null;
  /** The factor each attacker applied to its honest delta (sign-flip, large-norm). */
  attack_scales: number[];
}

export interface BaselineResults
  extends Omit<
    SimResults,
    | 'federation_id'
    | 'config'
    | 'rounds'
    | 'mean_round_latency_s'
    | 'mean_device_energy_j'
    | 'mean_round_seconds'
  > {
  setup: 'fedavg-lora';
  /** Parameters every device trains, uploads and downloads each round. */
  trainable_parameters: number;
  /** Indices of the devices that attack when selected (empty without an attack). */
  malicious_devices: number[];
  rounds: BaselineRound[];
  config: BaselineConfig;
}

/** Writes `<dir>/results.json` and returns its path. */
export async function writeBaselineResults(dir: string, results: BaselineResults): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'results.json');
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
