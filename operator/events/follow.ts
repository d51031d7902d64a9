// A federation's event stream (protocol/events.ts) over a WebSocket that is
// kept up: each message is checked against FederationEvent, a dropped or
// silent socket is opened again after a growing pause, and since every
// connection starts with a snapshot the watcher is whole again at once. A
// socket that cannot open at all is asked about over plain HTTP, so that an
// unknown federation or a wrong key ends the watch with the API's problem
// instead of retrying forever.
import { FederationEvent } from '../../protocol/events.js';
import { type AdminClient, ApiError } from '../client.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000 };

/** The pause before reconnect attempt `attempt` (0-based): doubling, capped. */
export const backoffDelay = (attempt: number, b: Backoff = DEFAULT_BACKOFF) =>
  Math.min(b.maxMs, b.initialMs * 2 ** attempt);

export interface FollowOptions {
  signal: AbortSignal;
  /** Each valid event in order; answers true once the watch is over. */
  onEvent(event: FederationEvent): boolean;
  /** Connection news and messages that were not events, for the operator. */
  onNotice(text: string): void;
  backoff?: Backoff;
  /** Pings this often, and gives a socket up after two periods without a word. */
  heartbeatMs?: number;
  /** Gives a socket up that has not brought the snapshot by then (a handshake may hang unanswered). */
  connectTimeoutMs?: number;
}

/** `over`: the federation finished (or a snapshot said it had); `aborted`: the signal fired. */
export type FollowEnd = 'over' | 'aborted';

/** WebSocket ready states, as the standard numbers them. */
const CONNECTING = 0;
const OPEN = 1;

type Session = { end: FollowEnd | 'dropped'; received: boolean; reason: string };

export async function followEvents(
  client: Pick<AdminClient, 'openEvents' | 'probeEvents'>,
  fid: string,
  o: FollowOptions,
): Promise<FollowEnd> {
  let attempt = 0;
  while (!o.signal.aborted) {
    const s = await session(await client.openEvents(fid), o);
    if (s.end !== 'dropped') return s.end;
    if (s.received) attempt = 0;
    else await fatalUnlessTransient(client, fid);
    const delay = backoffDelay(attempt++, o.backoff);
    o.onNotice(`connection lost (${s.reason}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    await pause(delay, o.signal);
  }
  return 'aborted';
}

/** Rethrows what the API says when it refuses the stream for good (4xx); anything else may pass. */
async function fatalUnlessTransient(client: Pick<AdminClient, 'probeEvents'>, fid: string): Promise<void> {
  try {
    await client.probeEvents(fid);
  } catch (err) {
    const status = err instanceof ApiError ? err.problem.status : 0;
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw err;
  }
}

function session(ws: WebSocket, o: FollowOptions): Promise<Session> {
  const heartbeatMs = o.heartbeatMs ?? 30_000;
  return new Promise((resolve) => {
    let received = false;
    let lastHeard = Date.now();
    let settled = false;
    const finish = (end: Session['end'], reason: string) => {
      if (settled) return;
      settled = true;
      clearInterval(heartbeat);
      clearTimeout(connecting);
      o.signal.removeEventListener('abort', onAbort);
      if (ws.readyState === CONNECTING || ws.readyState === OPEN) ws.close(1000);
      resolve({ end, received, reason });
    };
    const onAbort = () => finish('aborted', 'stopped');
    o.signal.addEventListener('abort', onAbort, { once: true });
    const heartbeat = setInterval(() => {
      if (Date.now() - lastHeard > 2 * heartbeatMs) finish('dropped', 'no word from the Worker');
      else if (ws.readyState === OPEN) ws.send('ping');
    }, heartbeatMs);
    const connecting = setTimeout(() => {
      if (!received) finish('dropped', 'no answer');
    }, o.connectTimeoutMs ?? 15_000);

    ws.addEventListener('message', (m: MessageEvent) => {
      lastHeard = Date.now();
      if (typeof m.data !== 'string' || m.data === 'pong') return;
      let parsed: ReturnType<typeof FederationEvent.safeParse>;
      try {
        parsed = FederationEvent.safeParse(JSON.parse(m.data));
      } catch {
        o.onNotice(`ignored a message that is not JSON: ${m.data.slice(0, 80)}`);
        return;
      }
      if (!parsed.success) {
        o.onNotice(`ignored a message that is not a federation event: ${parsed.error.issues[0]?.message}`);
        return;
      }
      received = true;
      if (o.onEvent(parsed.data)) finish('over', 'finished');
    });
    // Node's WebSocket may not follow a failed handshake's `error` with `close` for a minute.
    ws.addEventListener('error', () =>
      finish('dropped', received ? 'connection failed' : 'could not connect'),
    );
    ws.addEventListener('close', (c: CloseEvent) =>
      finish('dropped', c.reason || (received ? `closed with code ${c.code}` : 'could not connect')),
    );
    if (o.signal.aborted) onAbort();
  });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
