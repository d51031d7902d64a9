// The operator console: the Worker serves it at /console/ (wrangler.toml
// [assets]), and it talks to the same origin's API with the admin key the
// person enters once per tab. Everything live comes pushed over the
// federation's event stream (GET …/events, a WebSocket), not by polling.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { clientFor, forgetKey, savedKey, saveKey } from './api.js';
import { useRoute } from './route.js';
import { FederationPage } from './views/federation.js';
import { FederationsPage } from './views/federations.js';
import { KeyGate } from './views/key-gate.js';

function App() {
  const [key, setKey] = useState(savedKey);
  const client = useMemo(() => (key ? clientFor(key) : null), [key]);
  const route = useRoute();
  const signOut = () => {
    forgetKey();
    setKey(null);
  };
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          splitflare console
        </a>
        {client ? (
          <button type="button" class="link" onClick={signOut}>
            Forget the admin key
          </button>
        ) : null}
      </header>
      <main>
        {!client ? (
          <KeyGate
            onKey={(k) => {
              saveKey(k);
              setKey(k);
            }}
          />
        ) : route.view === 'federation' ? (
          <FederationPage client={client} id={route.id} />
        ) : (
          <FederationsPage client={client} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('root')!);
