// The Byzantine experiment's matrix and report: the attack-free FedAvg run,
// then every attack against plain FedAvg and each robust strategy, all with
// the same federation, seed and attackers. Like the experiment matrix, each
// setup is the argument list of its own baseline command line, so what a row
// ran and the command that reproduces it cannot drift apart.
import type { StrategyConfig } from '../../../protocol/federation.js';
import type { Attack } from './attack.js';
import type { BaselineResults } from './results.js';

export interface ByzantineSettings {
  rounds: number;
  seed: number;
  /** Share of the devices that attack. */
  malicious: number;
  evalEvery: number;
  /** Held-out images scored (0 = all 14,000). */
  evalSamples: number;
  /** Tiny settings for a smoke test. */
  quick: boolean;
  /** Each run writes its results under `<outDir>/<id>/`. */
  outDir: string;
  /** The attacks to run (all of BYZANTINE_ATTACKS unless narrowed); the attack-free run always comes first. */
  attacks?: readonly Attack[];
}

export const BYZANTINE_ATTACKS = [
  'sign-flip',
  'large-norm',
  'inflated-count',
  'label-flip',
] as const satisfies readonly Attack[];

/** The robust strategies, each with the flags that configure it. */
const ROBUST: ReadonlyArray<{ kind: StrategyConfig['kind']; label: string; flags: string[] }> = [
  { kind: 'clipped-fedavg', label: 'clipped FedAvg (adaptive, 2 × median norm)', flags: [] },
  { kind: 'median', label: 'coordinate median', flags: [] },
  { kind: 'trimmed-mean', label: 'trimmed mean 0.2', flags: ['--trim', '0.2'] },
  { kind: 'multi-krum', label: 'Multi-Krum (byzantine 0.2)', flags: ['--krum-byzantine', '0.2'] },
];

export interface ByzantineSetup {
  id: string;
  attack: Attack;
  strategy: StrategyConfig['kind'];
  label: string;
  unverified: boolean;
  argv: string[];
  command: string;
}

/** SFLAM's federation and EXPERIMENTS.md's optimizer: 50 clients, 10 a round, α 0.5, AdamW 0.002 cosine, 2 epochs. */
function sharedArgs(s: ByzantineSettings): string[] {
  const scale = s.quick
    ? ['--clients', '5', '--per-round', '5', '--samples-per-client', '64']
    : ['--clients', '50', '--per-round', '10'];
  return [
    ...scale,
    ...['--rounds', String(s.rounds), '--alpha', '0.5', '--local-epochs', '2', '--batch', '32'],
    ...['--optimizer', 'adamw', '--lr', '0.002', '--lr-schedule', 'cosine', '--seed', String(s.seed)],
    ...['--eval-samples', String(s.evalSamples), '--eval-every', String(s.evalEvery)],
  ];
}

export function byzantineMatrix(s: ByzantineSettings): ByzantineSetup[] {
  const shared = sharedArgs(s);
  const setup = (
    id: string,
    attack: Attack,
    strategy: StrategyConfig['kind'],
    label: string,
    flags: string[],
    unverified = false,
  ): ByzantineSetup => {
    const argv = [
      ...shared,
      ...['--strategy', strategy, ...flags],
      ...(attack === 'none' ? [] : ['--attack', attack, '--malicious', String(s.malicious)]),
      ...(unverified ? ['--unverified'] : []),
      ...['--out', `${s.outDir}/${id}`],
    ];
    return {
      id,
      attack,
      strategy,
      label,
      unverified,
      argv,
      command: `npm run baseline -- ${argv.join(' ')}`,
    };
  };
  const setups = [setup('clean-fedavg', 'none', 'fedavg', 'FedAvg', [])];
  const attacks = s.attacks ?? BYZANTINE_ATTACKS;
  for (const attack of BYZANTINE_ATTACKS.filter((a) => attacks.includes(a))) {
    setups.push(setup(`${attack}-fedavg`, attack, 'fedavg', 'FedAvg', []));
    for (const r of ROBUST) setups.push(setup(`${attack}-${r.kind}`, attack, r.kind, r.label, r.flags));
  }
  // What sample-count verification prevents: the same lie, weighted by its claim.
  // Multi-Krum too, since it filters by geometry and an honest-looking update passes it.
  const unverified = attacks.includes('inflated-count')
    ? [{ kind: 'fedavg' as const, label: 'FedAvg', flags: [] }, ROBUST[3]]
    : [];
  for (const r of unverified) {
    setups.push(
      setup(
        `inflated-count-${r.kind}-unverified`,
        'inflated-count',
        r.kind,
        `${r.label}, counts unverified`,
        r.flags,
        true,
      ),
    );
  }
  return setups;
}

export interface ByzantineRun {
  setup: ByzantineSetup;
  results: BaselineResults;
}

export interface ByzantineRow {
  id: string;
  attack: Attack;
  kind: StrategyConfig['kind'];
  strategy: string;
  unverified: boolean;
  final_accuracy: number;
  /** Percentage points against the attack-free FedAvg run. */
  delta_pts: number;
  /** Held-out accuracy of every scored round (1-based round → accuracy). */
  scored: Record<string, number>;
  /** Times a malicious device was selected, over the run. */
  attacker_selections: number;
  /** Updates refused, over the run, and by reason. */
  refused: number;
  refused_by: Record<string, number>;
  /** Selected devices that had nothing to send (training diverged on a broken version). */
  lost: number;
  failed_rounds: number;
  seconds: number;
  command: string;
}

export function byzantineRows(runs: readonly ByzantineRun[]): ByzantineRow[] {
  const clean = runs.find((r) => r.setup.attack === 'none');
  if (!clean) throw new Error('the matrix has no attack-free run to compare with');
  return runs.map(({ setup, results }) => {
    const refusedBy: Record<string, number> = {};
    for (const round of results.rounds)
      for (const r of round.refusals) refusedBy[r.code] = (refusedBy[r.code] ?? 0) + 1;
    const sum = (f: (r: BaselineResults['rounds'][number]) => number) =>
      results.rounds.reduce((a, r) => a + f(r), 0);
    return {
      id: setup.id,
      attack: setup.attack,
      kind: setup.strategy,
      strategy: setup.label,
      unverified: setup.unverified,
      final_accuracy: results.final_accuracy,
      delta_pts: (results.final_accuracy - clean.results.final_accuracy) * 100,
      scored: Object.fromEntries(
        results.rounds.filter((r) => r.accuracy !== null).map((r) => [String(r.round + 1), r.accuracy!]),
      ),
      attacker_selections: sum((r) => r.malicious),
      refused: sum((r) => r.refused),
      refused_by: refusedBy,
      lost: sum((r) => r.lost),
      failed_rounds: results.rounds.filter((r) => r.status === 'failed').length,
      seconds: results.total_seconds,
      command: setup.command,
    };
  });
}

export interface ByzantineTarget {
  attack: Attack;
  pass: boolean;
  best: string;
  detail: string;
}

// Accuracies are ratios of counts: a difference landing exactly on the bound must not fail by rounding.
const EPS = 1e-9;
export const TARGET_POINTS = 2;

/** Per attack: the best robust strategy (verified counts) within 2 points of attack-free FedAvg. */
export function byzantineTargets(rows: readonly ByzantineRow[]): ByzantineTarget[] {
  return BYZANTINE_ATTACKS.flatMap((attack) => {
    const robust = rows.filter((r) => r.attack === attack && !r.unverified && r.kind !== 'fedavg');
    if (robust.length === 0) return [];
    const best = robust.reduce((a, b) => (b.final_accuracy > a.final_accuracy ? b : a));
    const fedavg = rows.find((r) => r.attack === attack && !r.unverified && r.kind === 'fedavg');
    return [
      {
        attack,
        pass: best.delta_pts >= -TARGET_POINTS - EPS,
        best: best.strategy,
        detail:
          `best robust: ${best.strategy} ${pct(best.final_accuracy)} (${signed(best.delta_pts)} pts, bound −${TARGET_POINTS})` +
          (fedavg ? `; FedAvg ${pct(fedavg.final_accuracy)} (${signed(fedavg.delta_pts)} pts)` : ''),
      },
    ];
  });
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;

export function byzantineTable(rows: readonly ByzantineRow[]): string {
  const rounds = [...new Set(rows.flatMap((r) => Object.keys(r.scored)))].sort(
    (a, b) => Number(a) - Number(b),
  );
  const head = [
    'attack',
    'strategy',
    ...rounds.map((r) => `r${r}`),
    'final held-out acc',
    'Δ vs attack-free (pts)',
    'refused',
    'attacker selections',
  ];
  const lines = rows.map((r) => [
    r.attack === 'none' ? 'none' : r.attack,
    r.strategy,
    ...rounds.map((n) => (r.scored[n] === undefined ? '–' : (r.scored[n] * 100).toFixed(1))),
    pct(r.final_accuracy),
    r.attack === 'none' ? '—' : signed(r.delta_pts),
    String(r.refused),
    String(r.attacker_selections),
  ]);
  return [head, head.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function byzantineTargetLines(targets: readonly ByzantineTarget[]): string {
  return targets
    .map(
      (t) =>
        `${t.pass ? 'PASS' : 'MISS'}  ${t.attack}: best robust strategy within ${TARGET_POINTS} points of attack-free FedAvg: ${t.detail}`,
    )
    .join('\n');
}
