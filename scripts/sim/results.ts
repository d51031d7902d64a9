// What a simulation run produced, in the shape --json prints and
// results/<name>/results.json stores, plus the charts next to it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RoundStatus } from '../../protocol/federation.js';
import { accuracyByRoundSpec, accuracyByUplinkSpec, type ChartPoint, renderSvg } from './charts.js';
import type { SimConfig } from './config.js';

export interface RoundResult {
  round: number;
  status: RoundStatus;
  /** The version the round published (the previous one when it failed). */
  version: number;
  /** Held-out accuracy of `version`. */
  accuracy: number;
  /** Bytes the server counted on the step routes: activations up, gradients down. */
  uplink_bytes: number;
  downlink_bytes: number;
  cumulative_uplink_bytes: number;
  participants: number;
  samples: number;
  /** Sample-weighted training loss and accuracy the devices reported. */
  mean_loss: number | null;
  client_accuracy: number | null;
  steps: number;
  /** The head updates' bytes, every device's summed (masked updates under secure aggregation); the simulator's runs only. */
  update_bytes?: number;
  /** Secure aggregation's own messages (keys, shares, status polls, reveals), both ways, every device's summed. */
  protocol_bytes?: number;
  /** The slowest device's round on the emulated fleet's virtual clock (scripts/sim/fleet.ts), seconds. */
  latency_s: number;
  /** The devices' joules summed, on the same clock. */
  energy_j: number;
  /** Devices per cut and uplink/downlink encodings their tickets gave them ("embed int8/int8"). */
  encodings: Record<string, number>;
  /** What the coordinator's plan expected of the round (planned federations only). */
  planned_latency_s?: number;
  /** Per-device tails (v1) or one shared tail (v2), as the coordinator ran the round. */
  splitfed?: 'v1' | 'v2';
  /** The edge's seconds of tail compute for the round, every device's summed (virtual clock). */
  edge_s?: number;
  /** Tail copies the edge held at once (one per device in v1, one in v2), and their trainables with optimizer state. */
  edge_tails?: number;
  edge_state_bytes?: number;
  /** From the first join to the published version, wall time on this machine. */
  seconds: number;
}

export interface SimResults {
  initial_accuracy: number;
  final_accuracy: number;
  /** Mean over rounds of latency_s. */
  mean_round_latency_s: number;
  /** Mean over every device's rounds of its joules. */
  mean_device_energy_j: number;
  /** Mean over rounds of their wall time here: with --realtime, what the virtual clock is checked against. */
  mean_round_seconds: number;
  rounds: RoundResult[];
  federation_id: string;
  eval_samples: number;
  train_samples: number;
  /** Mean total-variation distance of client label mixes from the overall one (0 = IID). */
  label_skew: number;
  client_samples: { min: number; median: number; max: number };
  total_seconds: number;
  config: SimConfig;
}

export function chartPoints(results: Pick<SimResults, 'initial_accuracy' | 'rounds'>): ChartPoint[] {
  return [
    { round: 0, accuracy: results.initial_accuracy, cumulativeUplinkBytes: 0 },
    ...results.rounds.map((r) => ({
      round: r.round + 1,
      accuracy: r.accuracy,
      cumulativeUplinkBytes: r.cumulative_uplink_bytes,
    })),
  ];
}

export async function writeResults(dir: string, results: SimResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const c = results.config;
  const subtitle = `${c.clients} clients, ${c.perRound} per round, Dirichlet α ${c.alpha}, ${c.uplink} up, ${c.downlink} down`;
  const points = chartPoints(results);
  const files: Array<[string, string]> = [
    ['results.json', `${JSON.stringify(results, null, 2)}\n`],
    ['accuracy-by-round.svg', await renderSvg(accuracyByRoundSpec(points, subtitle))],
    ['accuracy-by-uplink.svg', await renderSvg(accuracyByUplinkSpec(points, subtitle))],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
