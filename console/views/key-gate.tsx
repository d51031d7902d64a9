// The admin key, asked for once per tab and checked against the API before it
// is kept: a wrong key is said at once, not at the first action.
import { useState } from 'preact/hooks';
import { clientFor } from '../api.js';
import { ErrorNote } from '../errors.js';

export function KeyGate({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await clientFor(key.trim()).federations();
      onKey(key.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card narrow">
      <h1>Sign in</h1>
      <p>
        The console acts with the deployment's admin key (<code>ADMIN_KEY</code>; locally, in{' '}
        <code>.dev.vars</code>). It is kept for this tab only.
      </p>
      <form onSubmit={submit}>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
