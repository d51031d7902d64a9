import { describe, expect, it } from 'vitest';
import type { SflUplink } from '../../../scripts/sim/baseline/matrix.js';
import {
  checkTargets,
  comparisonRows,
  markdownTable,
  type RunOutcome,
  targetLines,
} from '../../../scripts/sim/baseline/report.js';

const run = (id: string, accuracy: number, uplinkPerRound: number[]): RunOutcome =>
  ({
    id,
    label: id,
    command: `cmd ${id}`,
    results: {
      final_accuracy: accuracy,
      rounds: uplinkPerRound.map((uplink_bytes, round) => ({ round, uplink_bytes })),
    },
  }) as RunOutcome;

const central = { accuracy: 0.8739, command: 'npm run models:finetune-central' };

function sfl(
  acc: Record<SflUplink, number>,
  bytes: Record<SflUplink, number>,
): Record<SflUplink, RunOutcome> {
  const out = {} as Record<SflUplink, RunOutcome>;
  for (const u of ['fp32', 'int8', 'int4', 'int2'] as const) out[u] = run(u, acc[u], [bytes[u], bytes[u]]);
  return out;
}

/** The targets for SFL accuracies [fp32, int8, int4] and uplink bytes per round [fp32, int4]. */
const targetsFor = ([fp32, int8, int4]: number[], [fp32Bytes, int4Bytes]: number[]) =>
  checkTargets(
    sfl({ fp32, int8, int4, int2: 0.5 }, { fp32: fp32Bytes, int8: 2000, int4: int4Bytes, int2: 500 }),
    central,
  );

describe('experiment report', () => {
  it('compares every setup with SFL fp32 and the centralized fine-tune', () => {
    const runs = sfl(
      { fp32: 0.86, int8: 0.858, int4: 0.85, int2: 0.7 },
      { fp32: 1000, int8: 266, int4: 133, int2: 78 },
    );
    const baseline = run('fedavg-lora', 0.861, [500, 700]);
    const rows = comparisonRows([...Object.values(runs), baseline], runs.fp32, central);
    expect(rows.map((r) => r.setup)).toEqual([
      'fp32',
      'int8',
      'int4',
      'int2',
      'fedavg-lora',
      'Centralized (upper bound)',
    ]);
    const int4 = rows[2];
    expect(int4.delta_vs_fp32_pts).toBeCloseTo(-1);
    expect(int4.delta_vs_central_pts).toBeCloseTo(-2.39);
    expect(int4).toMatchObject({
      total_uplink_bytes: 266,
      uplink_bytes_per_round: 133,
      uplink_vs_fp32: 0.133,
    });
    expect(rows[4]).toMatchObject({
      total_uplink_bytes: 1200,
      uplink_bytes_per_round: 600,
      uplink_vs_fp32: 0.6,
    });
    expect(rows[5]).toMatchObject({ total_uplink_bytes: null, delta_vs_central_pts: 0 });

    const table = markdownTable(rows).split('\n');
    expect(table).toHaveLength(2 + rows.length);
    expect(table[2]).toBe('| fp32 | 86.00% | +0.00 | −1.39 | 2,000 | 1,000 | 100.0% | `cmd fp32` |');
    expect(table[7]).toContain('| – | – | – | `npm run models:finetune-central` |');
  });

  it('passes targets met exactly at their bounds', () => {
    const targets = targetsFor([0.8539, 0.8489, 0.8389], [7500, 1000]);
    expect(targets.map((t) => t.pass)).toEqual([true, true, true, true]);
  });

  it('reports misses with the figures behind them', () => {
    const targets = targetsFor([0.85, 0.8449, 0.834], [7000, 1000]);
    expect(targets.map((t) => t.pass)).toEqual([false, false, false, false]);
    const lines = targetLines(targets).split('\n');
    expect(lines[0]).toBe(
      'MISS  SFL fp32 within 2 points of centralized: 85.00% vs centralized 87.39% (−2.39 pts, bound −2)',
    );
    expect(lines[3]).toBe(
      'MISS  SFL int4 uplink per round ≤ 1/7.5 of fp32: 1,000 vs 7,000 B per round (1/7.00)',
    );
  });
});
