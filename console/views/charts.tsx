// Every round so far, as four small charts (uPlot draws them on a canvas):
// accuracy, loss, bytes and participants. Each chart is labelled with its
// latest values for people who cannot see it.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { RoundRecord, VersionRecord } from '../../protocol/federation.js';

interface Series {
  label: string;
  values: Array<number | null>;
  stroke: string;
}

function Chart({
  title,
  rounds,
  series,
  unit,
}: {
  title: string;
  rounds: number[];
  series: Series[];
  unit: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [rounds, ...series.map((s) => s.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current!;
    plot.current = new uPlot(
      {
        width: Math.max(260, el.clientWidth),
        height: 180,
        // Whole rounds on the x axis, from the first.
        scales: { x: { time: false, range: (_u, _min, max) => [1, Math.max(2, max)] } },
        axes: [
          { label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100] },
          { label: unit, size: 60 },
        ],
        series: [
          { label: 'round' },
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: true })),
        ],
        legend: { show: false },
      },
      data,
      el,
    );
    return () => plot.current?.destroy();
  }, [series.length]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  const last = series
    .map((s) => {
      const v = [...s.values].reverse().find((x) => x !== null);
      return `${s.label} ${v === undefined || v === null ? 'none' : Number(v.toFixed(4))}`;
    })
    .join(', ');
  return (
    <figure class="chart">
      <figcaption>
        {title}
        {series.map((s) => (
          <span key={s.label} class="key">
            <span class="swatch" style={{ background: s.stroke }} aria-hidden="true" />
            {s.label}
          </span>
        ))}
      </figcaption>
      <div ref={box} role="img" aria-label={`${title} by round, ${rounds.length} rounds; latest: ${last}`} />
    </figure>
  );
}

export function Charts({ history, versions }: { history: RoundRecord[]; versions: VersionRecord[] }) {
  const done = history.filter((r) => r.closedAt !== null);
  const rounds = done.map((r) => r.round + 1);
  const evaluated = new Map(
    versions.filter((v) => v.round !== null && v.evaluation).map((v) => [v.round, v]),
  );
  return (
    <section class="card" aria-labelledby="charts-heading">
      <h2 id="charts-heading">Rounds</h2>
      {done.length === 0 ? <p>Charts appear when the first round closes.</p> : null}
      <div class="charts" data-rounds={done.length}>
        {done.length === 0 ? null : (
          <>
            <Chart
              title="Accuracy"
              unit="share"
              rounds={rounds}
              series={[
                { label: 'devices (training)', values: done.map((r) => r.clientAccuracy), stroke: '#2563eb' },
                {
                  label: 'evaluated version',
                  values: done.map((r) => evaluated.get(r.round)?.evaluation?.accuracy ?? null),
                  stroke: '#16a34a',
                },
              ]}
            />
            <Chart
              title="Loss"
              unit="mean loss"
              rounds={rounds}
              series={[{ label: 'devices', values: done.map((r) => r.meanLoss), stroke: '#dc2626' }]}
            />
            <Chart
              title="Traffic"
              unit="MB"
              rounds={rounds}
              series={[
                { label: 'up', values: done.map((r) => r.uplinkBytes / 1e6), stroke: '#7c3aed' },
                { label: 'down', values: done.map((r) => r.downlinkBytes / 1e6), stroke: '#ea580c' },
              ]}
            />
            <Chart
              title="Participants"
              unit="devices"
              rounds={rounds}
              series={[
                { label: 'submitted', values: done.map((r) => r.participants), stroke: '#0891b2' },
                { label: 'selected', values: done.map((r) => r.selected.length), stroke: '#64748b' },
              ]}
            />
          </>
        )}
      </div>
    </section>
  );
}
