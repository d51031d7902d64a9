// The pass a device gets when it joins a round: `sp1.<kid>.<mac>`, the MAC
// (HMAC-SHA256, the device-token keyring) over the federation, round, device
// and token generation. Its steps and its submit carry it in
// `x-splitflare-session`, and the Worker checks it before naming any object:
// a request for a round the device did not join never reaches (and so never
// creates) a session object. Stateless, so per-step work still touches only
// the device's own session. A re-enrolled device's new generation voids its
// old passes along with its old tokens.
import type { TokenKeyring } from './keys.js';
import { b64url, hmacKey, unb64url } from './tokens.js';

const VERSION = 'sp1';

export interface SessionScope {
  federationId: string;
  round: number;
  deviceId: string;
  generation: number;
}

const signed = (kid: string, s: SessionScope) =>
  new TextEncoder().encode(
    [VERSION, kid, s.federationId, String(s.round), s.deviceId, String(s.generation)].join('\n'),
  );

export async function issueSessionPass(ring: TokenKeyring, scope: SessionScope): Promise<string> {
  const { kid, secret } = ring.signing;
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), signed(kid, scope)));
  return `${VERSION}.${kid}.${b64url(mac)}`;
}

/** Whether `pass` was issued for exactly this scope by a key the ring still holds. */
export async function verifySessionPass(
  ring: TokenKeyring,
  pass: string | undefined,
  scope: SessionScope,
): Promise<boolean> {
  if (!pass || pass.length > 200) return false;
  const parts = pass.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return false;
  const key = ring.byKid.get(parts[1]);
  const mac = unb64url(parts[2]);
  if (!key || !mac) return false;
  return crypto.subtle.verify('HMAC', await hmacKey(key.secret), mac, signed(key.kid, scope));
}
