// Device bearer tokens: `sf2.<payload>.<signature>`, base64url. The payload
// is JSON { f: federation, d: device, g: generation, k: key id, iat, exp }
// (milliseconds); the signature is HMAC-SHA256 over `sf2.<payload>` with the
// key the payload names (keys.ts). A token names one device in one
// federation; the routes take the device's identity from it, never from the
// request, so a device cannot act in another device's session.
//
// The signature proves the Worker issued the token; whether the device is
// still entitled to it (not revoked, not re-enrolled since) is the
// coordinator's to say, by the generation (durable-objects/coordinator/devices.ts).
import { z } from 'zod';
import type { TokenKey, TokenKeyring } from './keys.js';

export const TOKEN_VERSION = 'sf2';
/** Tokens are issued by the Worker's own clock; this much disagreement between isolates is tolerated. */
export const CLOCK_SKEW_MS = 2 * 60 * 1000;
const MAX_PAYLOAD_BYTES = 1024;

const Millis = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Payload = z
  .object({
    f: z.string().min(1).max(64),
    d: z.string().min(1).max(64),
    g: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    k: z.string().min(1).max(32),
    iat: Millis,
    exp: Millis,
  })
  .strict();

export interface DeviceClaims {
  federationId: string;
  deviceId: string;
  /** The device's enrolment generation when the token was issued; re-enrolment moves it on. */
  generation: number;
  keyId: string;
  /** Unix milliseconds. */
  issuedAt: number;
  /** Unix milliseconds; the token is refused from this instant on. */
  expiresAt: number;
}

/** Why a token was refused; clients see it as the `reason` of a 401. */
export type TokenRejection =
  | 'malformed'
  | 'unsupported-version'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid';

export type TokenCheck =
  | { ok: true; claims: DeviceClaims }
  | { ok: false; reason: TokenRejection; detail: string };

const encoder = new TextEncoder();

export function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function unb64url(s: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();
export function hmacKey(secret: string): Promise<CryptoKey> {
  let k = hmacKeys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    hmacKeys.set(secret, k);
  }
  return k;
}

// The version is signed too, so a payload can never be replayed under another format.
const signingInput = (payload: string) => encoder.encode(`${TOKEN_VERSION}.${payload}`);

/** A token for the device, signed with the keyring's signing key, valid from `now` for `lifetimeMs`. */
export async function issueDeviceToken(
  ring: TokenKeyring,
  device: Pick<DeviceClaims, 'federationId' | 'deviceId' | 'generation'>,
  now: number,
  lifetimeMs: number,
): Promise<{ token: string; claims: DeviceClaims }> {
  const key: TokenKey = ring.signing;
  const claims: DeviceClaims = { ...device, keyId: key.kid, issuedAt: now, expiresAt: now + lifetimeMs };
  const payload = b64url(
    encoder.encode(
      JSON.stringify({
        f: claims.federationId,
        d: claims.deviceId,
        g: claims.generation,
        k: claims.keyId,
        iat: claims.issuedAt,
        exp: claims.expiresAt,
      }),
    ),
  );
  const sig = new Uint8Array(
    await crypto.subtle.sign('HMAC', await hmacKey(key.secret), signingInput(payload)),
  );
  return { token: `${TOKEN_VERSION}.${payload}.${b64url(sig)}`, claims };
}

const reject = (reason: TokenRejection, detail: string): TokenCheck => ({ ok: false, reason, detail });

/** The claims of a token that is well-formed, signed by a listed key and within its validity at `now`. */
export async function verifyDeviceToken(ring: TokenKeyring, token: string, now: number): Promise<TokenCheck> {
  const parts = token.split('.');
  if (parts.length !== 3) return reject('malformed', 'The device token is not a splitflare token.');
  if (parts[0] !== TOKEN_VERSION) {
    return /^sf\d+$/.test(parts[0])
      ? reject('unsupported-version', `${parts[0]} tokens are no longer accepted; re-enroll the device.`)
      : reject('malformed', 'The device token is not a splitflare token.');
  }
  const payload = unb64url(parts[1]);
  const sig = unb64url(parts[2]);
  if (!payload || !sig || payload.byteLength > MAX_PAYLOAD_BYTES) {
    return reject('malformed', 'The device token is not valid base64url.');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(payload));
  } catch {
    return reject('malformed', 'The device token payload is not JSON.');
  }
  // Parsed before the signature is checked only to find the key; nothing in it is trusted until then.
  const parsed = Payload.safeParse(json);
  if (!parsed.success) return reject('malformed', 'The device token payload lacks or mistypes a claim.');
  const p = parsed.data;
  const key = ring.byKid.get(p.k);
  if (!key) return reject('unknown-key', `The device token's key "${p.k}" is not accepted any more.`);
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify('HMAC', await hmacKey(key.secret), sig, signingInput(parts[1])))) {
    return reject('bad-signature', 'The device token signature does not match.');
  }
  if (p.exp <= p.iat) return reject('malformed', 'The device token expires before it was issued.');
  if (p.iat > now + CLOCK_SKEW_MS) return reject('not-yet-valid', 'The device token is not valid yet.');
  if (now >= p.exp) {
    return reject('expired', `The device token expired at ${new Date(p.exp).toISOString()}.`);
  }
  return {
    ok: true,
    claims: {
      federationId: p.f,
      deviceId: p.d,
      generation: p.g,
      keyId: p.k,
      issuedAt: p.iat,
      expiresAt: p.exp,
    },
  };
}

/** Constant-time string comparison for the admin key. */
export function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
