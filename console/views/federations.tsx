// The list of federations and the form that creates one.
import { useEffect, useState } from 'preact/hooks';
import type { AdminClient } from '../../operator/client.js';
import type { FederationSummary } from '../../protocol/federation.js';
import { ErrorNote } from '../errors.js';
import { federationHref } from '../route.js';
import { CreateFederation } from './create-federation.js';

export function FederationsPage({ client }: { client: AdminClient }) {
  const [federations, setFederations] = useState<FederationSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = () =>
    client.federations().then(
      (list) => {
        setFederations(list);
        setError(null);
      },
      (err) => setError(err),
    );
  useEffect(() => {
    void load();
  }, [client]);

  return (
    <>
      <section class="card">
        <h1>Federations</h1>
        <ErrorNote error={error} />
        {federations === null ? (
          <p aria-live="polite">Loading…</p>
        ) : federations.length === 0 ? (
          <p>No federation yet: create one below.</p>
        ) : (
          <table>
            <caption class="sr-only">Every federation of this deployment</caption>
            <thead>
              <tr>
                <th scope="col">Federation</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Devices</th>
                <th scope="col">Round</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {federations.map((f) => (
                <tr key={f.id}>
                  <td>
                    <a href={federationHref(f.id)}>{f.id}</a>
                  </td>
                  <td>{f.modelId}</td>
                  <td>
                    <span class={`badge ${f.started ? f.status : 'created'}`}>
                      {f.started ? f.status : 'not started'}
                    </span>
                  </td>
                  <td>{f.devices}</td>
                  <td>
                    {f.currentRound === null
                      ? '–'
                      : `${f.currentRound + 1}/${f.rounds} ${f.roundStatus ?? ''}`}
                  </td>
                  <td>{f.latestVersion}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <CreateFederation
        client={client}
        onCreated={(id) => {
          location.hash = federationHref(id);
        }}
      />
    </>
  );
}
