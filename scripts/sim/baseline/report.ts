// The experiment record's comparison: one row per setup against the split
// federation at fp32 and the centralized fine-tune, and the accuracy and
// traffic targets the split design promises, reported as PASS or MISS.
import type { RoundResult, SimResults } from '../results.js';
import type { SflUplink } from './matrix.js';

export interface RunOutcome {
  id: string;
  label: string;
  command: string;
  // Only the traffic of the rounds: a baseline round may leave its accuracy unscored.
  results: Pick<SimResults, 'final_accuracy'> & { rounds: ReadonlyArray<Pick<RoundResult, 'uplink_bytes'>> };
}

export interface Centralized {
  accuracy: number;
  command: string;
}

export interface Row {
  setup: string;
  accuracy: number;
  /** Percentage points. */
  delta_vs_fp32_pts: number;
  delta_vs_central_pts: number;
  /** Null for the centralized fine-tune, which sends nothing. */
  total_uplink_bytes: number | null;
  uplink_bytes_per_round: number | null;
  uplink_vs_fp32: number | null;
  command: string;
}

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
}

const totalUplink = (r: RunOutcome) => r.results.rounds.reduce((a, x) => a + x.uplink_bytes, 0);
const uplinkPerRound = (r: RunOutcome) => totalUplink(r) / Math.max(1, r.results.rounds.length);
const points = (a: number, b: number) => (a - b) * 100;
// Accuracies are ratios of counts: a difference landing exactly on a bound must not fail by rounding.
const EPS = 1e-9;

/** `runs` in table order; `fp32` is the split federation at fp32, the reference for the deltas. */
export function comparisonRows(runs: readonly RunOutcome[], fp32: RunOutcome, central: Centralized): Row[] {
  const rows = runs.map(
    (r): Row => ({
      setup: r.label,
      accuracy: r.results.final_accuracy,
      delta_vs_fp32_pts: points(r.results.final_accuracy, fp32.results.final_accuracy),
      delta_vs_central_pts: points(r.results.final_accuracy, central.accuracy),
      total_uplink_bytes: totalUplink(r),
      uplink_bytes_per_round: uplinkPerRound(r),
      uplink_vs_fp32: totalUplink(r) / totalUplink(fp32),
      command: r.command,
    }),
  );
  rows.push({
    setup: 'Centralized (upper bound)',
    accuracy: central.accuracy,
    delta_vs_fp32_pts: points(central.accuracy, fp32.results.final_accuracy),
    delta_vs_central_pts: 0,
    total_uplink_bytes: null,
    uplink_bytes_per_round: null,
    uplink_vs_fp32: null,
    command: central.command,
  });
  return rows;
}

export function checkTargets(sfl: Record<SflUplink, RunOutcome>, central: Centralized): Target[] {
  const acc = (u: SflUplink) => sfl[u].results.final_accuracy;
  const within = (name: string, got: number, ref: number, refName: string, pts: number): Target => ({
    name,
    pass: points(got, ref) >= -pts - EPS,
    detail: `${pct(got)} vs ${refName} ${pct(ref)} (${signed(points(got, ref))} pts, bound −${pts})`,
  });
  const ratio = uplinkPerRound(sfl.fp32) / uplinkPerRound(sfl.int4);
  return [
    within('SFL fp32 within 2 points of centralized', acc('fp32'), central.accuracy, 'centralized', 2),
    within('SFL int8 within 0.5 points of SFL fp32', acc('int8'), acc('fp32'), 'fp32', 0.5),
    within('SFL int4 within 1.5 points of SFL fp32', acc('int4'), acc('fp32'), 'fp32', 1.5),
    {
      name: 'SFL int4 uplink per round ≤ 1/7.5 of fp32',
      pass: ratio >= 7.5 - EPS,
      detail: `${bytes(uplinkPerRound(sfl.int4))} vs ${bytes(uplinkPerRound(sfl.fp32))} B per round (1/${ratio.toFixed(2)})`,
    },
  ];
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const bytes = (x: number) => Math.round(x).toLocaleString('en-US');
const orDash = <T>(x: T | null, f: (v: T) => string) => (x === null ? '–' : f(x));

export function markdownTable(rows: readonly Row[]): string {
  const head = [
    'setup',
    'final held-out acc',
    'Δ vs SFL fp32 (pts)',
    'Δ vs centralized (pts)',
    'total uplink (B)',
    'uplink per round (B)',
    'uplink vs fp32',
    'reproduce',
  ];
  const lines = rows.map((r) => [
    r.setup,
    pct(r.accuracy),
    signed(r.delta_vs_fp32_pts),
    signed(r.delta_vs_central_pts),
    orDash(r.total_uplink_bytes, bytes),
    orDash(r.uplink_bytes_per_round, bytes),
    orDash(r.uplink_vs_fp32, (x) => `${(x * 100).toFixed(1)}%`),
    `\`${r.command}\``,
  ]);
  return [head, head.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function targetLines(targets: readonly Target[]): string {
  return targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.detail}`).join('\n');
}
