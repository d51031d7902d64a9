// The versions rounds have made: which is current, which were held back, and
// how each scored where it was evaluated.
import { pct, time } from '../../operator/format.js';
import type { VersionRecord } from '../../protocol/federation.js';

export function Versions({ versions, current }: { versions: VersionRecord[]; current: number }) {
  return (
    <section class="card" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Published versions</h2>
      <table>
        <caption class="sr-only">Versions of the adapters</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Round</th>
            <th scope="col">Status</th>
            <th scope="col">Evaluated accuracy</th>
            <th scope="col">Made</th>
          </tr>
        </thead>
        <tbody>
          {[...versions].reverse().map((v) => (
            <tr key={v.version} data-version={v.version}>
              <th scope="row">
                {v.version}
                {v.version === current ? ' (current)' : ''}
              </th>
              <td>{v.round === null ? 'initial' : v.round + 1}</td>
              <td>
                <span class={`badge ${v.status}`}>{v.status}</span>
              </td>
              <td>
                {v.evaluation ? `${pct(v.evaluation.accuracy)} on ${v.evaluation.samples}` : 'not evaluated'}
              </td>
              <td>{time(v.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
