// Enrolling devices (the token is shown once, here, and kept nowhere),
// revoking them, and each device's standing: last contact with the
// coordinator and what it is doing in the current round.
import { useState } from 'preact/hooks';
import type { AdminClient } from '../../operator/client.js';
import { profileSummary, time } from '../../operator/format.js';
import type { DeviceRecord, Enrollment, RoundRecord } from '../../protocol/federation.js';
import { ErrorNote } from '../errors.js';

function standing(d: DeviceRecord, round: RoundRecord | null): string {
  if (d.revokedAt !== null) return 'revoked';
  if (!round?.selected.includes(d.deviceId) || round.closedAt !== null) return 'idle';
  return round.joined.includes(d.deviceId) ? 'training' : 'selected';
}

export function Devices(props: {
  client: AdminClient;
  federationId: string;
  devices: DeviceRecord[];
  round: RoundRecord | null;
  onChange: () => void;
}) {
  const { client, federationId, devices, round, onChange } = props;
  const [deviceId, setDeviceId] = useState('');
  const [issued, setIssued] = useState<Enrollment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const enroll = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setIssued(await client.enroll(federationId, deviceId.trim()));
      setDeviceId('');
      onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (id: string) => {
    if (!confirm(`Revoke ${id}? Every token it holds stops working.`)) return;
    try {
      await client.revoke(federationId, id);
      onChange();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section class="card" aria-labelledby="devices-heading">
      <h2 id="devices-heading">Devices</h2>
      <form class="inline" onSubmit={enroll}>
        <label for="enroll-id">Device id</label>
        <input
          id="enroll-id"
          autocomplete="off"
          placeholder="phone-17"
          required
          value={deviceId}
          onInput={(e) => setDeviceId(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy || deviceId.trim() === ''}>
          Enroll
        </button>
      </form>
      <ErrorNote error={error} />
      {issued ? (
        <div class="token" role="status">
          <p>
            Token for <strong>{issued.deviceId}</strong> (generation {issued.generation}, valid until{' '}
            {time(issued.expiresAt)}). It is shown this once: give it to the device now.
          </p>
          <label for="issued-token">Device token</label>
          <textarea id="issued-token" readOnly rows={3} value={issued.token} data-testid="token" />
          <button type="button" onClick={() => navigator.clipboard?.writeText(issued.token)}>
            Copy
          </button>{' '}
          <button type="button" class="link" onClick={() => setIssued(null)}>
            Done
          </button>
        </div>
      ) : null}
      {devices.length === 0 ? (
        <p>No device enrolled yet.</p>
      ) : (
        <table>
          <caption class="sr-only">Enrolled devices</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Status</th>
              <th scope="col">Last contact</th>
              <th scope="col">Profile</th>
              <th scope="col">Enrolled</th>
              <th scope="col">Generation</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr key={d.deviceId} data-device={d.deviceId}>
                <th scope="row">{d.deviceId}</th>
                <td>
                  <span class={`badge ${standing(d, round)}`}>{standing(d, round)}</span>
                </td>
                <td>{d.lastSeenAt === null ? 'never' : time(d.lastSeenAt)}</td>
                <td>{profileSummary(d.profile)}</td>
                <td>{time(d.enrolledAt)}</td>
                <td>{d.generation}</td>
                <td>
                  {d.revokedAt === null ? (
                    <button type="button" class="link danger" onClick={() => revoke(d.deviceId)}>
                      Revoke<span class="sr-only"> {d.deviceId}</span>
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
