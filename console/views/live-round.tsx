// The round as it happens, from the event stream: who was selected, who
// joined, each device's steps, loss and bytes as its session reports them,
// and the time left before the deadline.
import { useEffect, useState } from 'preact/hooks';
import { deviceBar, type WatchView } from '../../operator/events/view.js';
import { bytes, duration, loss, pct } from '../../operator/format.js';

function useNow(periodMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export function LiveRound({ view, connection }: { view: WatchView; connection: string }) {
  const now = useNow(1000);
  const r = view.round;
  const open = r !== null && r.closedAt === null;
  const left = view.deadline === null ? null : view.deadline - now;
  return (
    <section class="card" aria-labelledby="live-heading">
      <h2 id="live-heading">Live round</h2>
      <p class="connection">
        Event stream: <span data-testid="connection">{connection}</span>
      </p>
      {r === null ? (
        <p>No round has opened yet.</p>
      ) : (
        <>
          <p aria-live="polite" data-testid="round-status">
            Round {r.round + 1}
            {view.rounds === null ? '' : ` of ${view.rounds}`}: <strong>{r.status}</strong> ·{' '}
            {r.joined.length}/{r.selected.length} joined · {r.participants} submitted
            {r.meanLoss !== null ? ` · mean loss ${loss(r.meanLoss)}` : ''}
            {r.clientAccuracy !== null ? ` · client accuracy ${pct(r.clientAccuracy)}` : ''}
          </p>
          {open && left !== null ? (
            <p data-testid="countdown">
              {left > 0 ? `Closes in ${duration(left)}` : 'Deadline passed: closing with the updates it has'}
            </p>
          ) : null}
          <table>
            <caption class="sr-only">Devices selected for this round</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">State</th>
                <th scope="col">Steps</th>
                <th scope="col">Loss</th>
                <th scope="col">Sent</th>
                <th scope="col">Received</th>
              </tr>
            </thead>
            <tbody>
              {view.devices.map((d) => {
                const bar = deviceBar(view, d);
                return (
                  <tr key={d.deviceId} data-device={d.deviceId}>
                    <th scope="row">{d.deviceId}</th>
                    <td>
                      <span class={`badge ${d.state}`}>{d.state}</span>
                    </td>
                    <td>
                      <progress
                        value={bar.value}
                        max={bar.total}
                        aria-label={`${d.deviceId}: ${d.steps} steps`}
                      />{' '}
                      <span data-testid="steps">{d.steps}</span>
                    </td>
                    <td>{loss(d.loss)}</td>
                    <td>{bytes(d.uplinkBytes)}</td>
                    <td>{bytes(d.downlinkBytes)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
