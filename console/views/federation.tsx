// One federation: its controls, the live round, charts of every round so
// far, its devices and its versions. The live parts follow the coordinator's
// event stream; the tables are read again when an event says they changed.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { AdminClient } from '../../operator/client.js';
import { followEvents } from '../../operator/events/follow.js';
import { applyEvent, initialView, type WatchView } from '../../operator/events/view.js';
import type { FederationEvent } from '../../protocol/events.js';
import type { DeviceRecord, FederationState, RoundRecord, VersionRecord } from '../../protocol/federation.js';
import { ErrorNote } from '../errors.js';
import { Charts } from './charts.js';
import { Devices } from './devices.js';
import { LiveRound } from './live-round.js';
import { Versions } from './versions.js';

export interface FederationData {
  state: FederationState;
  history: RoundRecord[];
  versions: VersionRecord[];
  devices: DeviceRecord[];
}

/** Events after which the tables no longer show what the coordinator holds. */
const changesTables = (e: FederationEvent) =>
  e.type === 'snapshot' || e.type === 'version' || e.type === 'finished' || e.type === 'round';

export function FederationPage({ client, id }: { client: AdminClient; id: string }) {
  const [data, setData] = useState<FederationData | null>(null);
  const [live, setLive] = useState<WatchView>(() => initialView(id));
  const [connection, setConnection] = useState('connecting to the event stream…');
  const [error, setError] = useState<unknown>(null);
  const [acting, setActing] = useState(false);
  const reading = useRef<Promise<void> | null>(null);
  const again = useRef(false);

  // One read at a time; events that arrive during it ask for one more after it.
  const refresh = useCallback(() => {
    if (reading.current) {
      again.current = true;
      return;
    }
    reading.current = (async () => {
      do {
        again.current = false;
        try {
          const [state, history, versions, devices] = await Promise.all([
            client.state(id),
            client.history(id),
            client.versions(id),
            client.devices(id),
          ]);
          setData({ state, history, versions: versions.versions, devices });
        } catch (err) {
          setError(err);
        }
      } while (again.current);
      reading.current = null;
    })();
  }, [client, id]);

  useEffect(() => {
    setData(null);
    setLive(initialView(id));
    refresh();
    const stop = new AbortController();
    followEvents(client, id, {
      signal: stop.signal,
      onEvent: (event) => {
        setLive((view) => applyEvent(view, event).view);
        setConnection('live');
        if (changesTables(event)) refresh();
        return false;
      },
      onNotice: setConnection,
    }).catch((err) => {
      setConnection('not connected');
      setError(err);
    });
    return () => stop.abort();
  }, [client, id, refresh]);

  const act = async (what: () => Promise<unknown>) => {
    setActing(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(err);
    } finally {
      setActing(false);
      refresh();
    }
  };

  const state = data?.state;
  const started = state?.currentRound !== null && state !== undefined;
  return (
    <>
      <section class="card">
        <p>
          <a href="#/">← Federations</a>
        </p>
        <h1>{id}</h1>
        <ErrorNote error={error} />
        {state ? (
          <>
            <dl class="facts">
              <dt>Status</dt>
              <dd>
                <span class={`badge ${started ? state.status : 'created'}`}>
                  {started ? state.status : 'not started'}
                </span>
              </dd>
              <dt>Model</dt>
              <dd>
                {state.config.modelId} (cut {state.cut})
              </dd>
              <dt>Rounds</dt>
              <dd>{state.config.rounds}</dd>
              <dt>Devices per round</dt>
              <dd>
                {state.config.clientsPerRound} (quorum {state.config.quorum})
              </dd>
              <dt>Encodings</dt>
              <dd>
                {state.config.uplink} up, {state.config.downlink} down
              </dd>
              <dt>Current version</dt>
              <dd>
                {state.currentVersion}
                {state.pinned ? ' (pinned)' : ''}
              </dd>
            </dl>
            <div class="actions">
              <button
                type="button"
                disabled={acting || started || state.status !== 'running' || state.devices === 0}
                onClick={() => act(() => client.start(id))}
              >
                Start
              </button>
              <button
                type="button"
                class="danger"
                disabled={acting || state.status !== 'running'}
                onClick={() => {
                  if (confirm(`Close ${id}? Its live round fails and no round opens again.`)) {
                    void act(() => client.close(id));
                  }
                }}
              >
                Close
              </button>
              {!started && state.devices === 0 ? <span class="hint">Enroll a device to start.</span> : null}
            </div>
          </>
        ) : (
          <p aria-live="polite">Loading…</p>
        )}
      </section>
      <LiveRound view={live} connection={connection} />
      {data ? (
        <>
          <Charts history={data.history} versions={data.versions} />
          <Devices
            client={client}
            federationId={id}
            devices={data.devices}
            round={state?.currentRound ?? null}
            onChange={refresh}
          />
          <Versions versions={data.versions} current={state?.currentVersion ?? 0} />
        </>
      ) : null}
    </>
  );
}
