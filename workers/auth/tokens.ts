// Device bearer tokens: `sf1.<payload>.<signature>`, base64url, HMAC-SHA256
// over the payload with the Worker's TOKEN_SECRET. A token names one device in
// one federation; the routes take the device's identity from it, never from
// the request, so a device cannot act in another device's session.
import { z } from 'zod';

const PREFIX = 'sf1';
const Payload = z.object({ f: z.string(), d: z.string(), iat: z.number().int() });
export type DeviceClaims = { federationId: string; deviceId: string; issuedAt: number };

const encoder = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function unb64url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, k);
  }
  return k;
}

export async function issueDeviceToken(
  secret: string,
  claims: Omit<DeviceClaims, 'issuedAt'>,
): Promise<string> {
  const payload = encoder.encode(
    JSON.stringify({ f: claims.federationId, d: claims.deviceId, iat: Date.now() }),
  );
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), payload));
  return `${PREFIX}.${b64url(payload)}.${b64url(sig)}`;
}

/** The claims of a valid token, or undefined for anything else (malformed, forged, foreign prefix). */
export async function verifyDeviceToken(secret: string, token: string): Promise<DeviceClaims | undefined> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
  const payload = unb64url(parts[1]);
  const sig = unb64url(parts[2]);
  if (!payload || !sig || payload.byteLength > 1024) return undefined;
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify('HMAC', await hmacKey(secret), sig, payload))) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  const parsed = Payload.safeParse(json);
  if (!parsed.success) return undefined;
  return { federationId: parsed.data.f, deviceId: parsed.data.d, issuedAt: parsed.data.iat };
}

/** Constant-time string comparison for the admin key. */
export function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
