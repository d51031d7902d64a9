// The experiment matrix: the split federation at each uplink encoding and the
// FedAvg-LoRA baseline, all with the same seed, data and rounds. Each setup is
// the argument list of its own command line, so the configuration a row used
// and the command that reproduces it cannot drift apart.
import type { Encoding } from '../../../protocol/encoding.js';

export const SFL_UPLINKS = ['fp32', 'int8', 'int4', 'int2'] as const satisfies readonly Encoding[];
export type SflUplink = (typeof SFL_UPLINKS)[number];
export const SFL_DOWNLINK: Encoding = 'int8';

export interface MatrixSettings {
  rounds: number;
  localEpochs: number;
  seed: number;
  optimizer: 'sgd' | 'adamw';
  /** The learning rate of both sides (the baseline has one side). */
  lr: number;
  lrSchedule: 'constant' | 'cosine';
  /** Held-out images every published version is scored on (0 = all). */
  evalSamples: number;
  /** Tiny settings for a smoke test. */
  quick: boolean;
  /** Each run writes its results under `<outDir>/<id>/`. */
  outDir: string;
}

export interface Setup {
  id: string;
  label: string;
  argv: string[];
  /** The command line that reproduces the run from the repository root. */
  command: string;
}

export interface SflSetup extends Setup {
  uplink: SflUplink;
}

export interface Matrix {
  sfl: SflSetup[];
  baseline: Setup;
}

/** The federation every setup shares: SFLAM's 50 clients, 10 per round, α = 0.5, or a tiny one. */
function sharedArgs(s: MatrixSettings): string[] {
  const scale = s.quick
    ? ['--clients', '3', '--per-round', '3', '--samples-per-client', '128']
    : ['--clients', '50', '--per-round', '10'];
  return [
    ...scale,
    '--rounds',
    String(s.rounds),
    '--alpha',
    '0.5',
    '--local-epochs',
    String(s.localEpochs),
    '--seed',
    String(s.seed),
    '--optimizer',
    s.optimizer,
    '--lr-schedule',
    s.lrSchedule,
    '--eval-samples',
    String(s.evalSamples),
  ];
}

export function experimentMatrix(s: MatrixSettings): Matrix {
  const shared = sharedArgs(s);
  const sfl = SFL_UPLINKS.map((uplink): SflSetup => {
    const id = `sfl-${uplink}`;
    const argv = [
      ...shared,
      '--lr-head',
      String(s.lr),
      '--lr-tail',
      String(s.lr),
      '--uplink',
      uplink,
      '--downlink',
      SFL_DOWNLINK,
      '--out',
      `${s.outDir}/${id}`,
    ];
    return {
      id,
      uplink,
      label: `SFL ${uplink} up / ${SFL_DOWNLINK} down`,
      argv,
      command: `npm run sim -- ${argv.join(' ')}`,
    };
  });
  const argv = [...shared, '--lr', String(s.lr), '--out', `${s.outDir}/fedavg-lora`];
  return {
    sfl,
    baseline: {
      id: 'fedavg-lora',
      label: 'FedAvg-LoRA (no split)',
      argv,
      command: `npx tsx scripts/baseline.ts ${argv.join(' ')}`,
    },
  };
}
