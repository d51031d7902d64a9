// The device token codec and the signing keyring, in Node: what a token
// carries, and each reason a token is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOKEN_TTL_SECONDS,
  parseKeyring,
  SINGLE_SECRET_KID,
  TokenConfigError,
  tokenLifetimeMs,
} from '../../../workers/auth/keys.js';
import { b64url, CLOCK_SKEW_MS, issueDeviceToken, verifyDeviceToken } from '../../../workers/auth/tokens.js';

const NEW = 'k2:new-secret-0123456789abcdef';
const OLD = 'k1:old-secret-0123456789abcdef';
const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 0, 1);
const device = { federationId: 'fed-a', deviceId: 'dev-1', generation: 3 };

const issue = (list = `${NEW},${OLD}`, now = NOW, lifetime = DAY) =>
  issueDeviceToken(parseKeyring(list, undefined), device, now, lifetime);

async function rejection(token: string, list = `${NEW},${OLD}`, now = NOW) {
  const checked = await verifyDeviceToken(parseKeyring(list, undefined), token, now);
  if (checked.ok) throw new Error('expected the token to be refused');
  return checked.reason;
}

/** A token with this payload, signed correctly under `secret`, for claims the issuer never writes. */
async function signed(payload: unknown, secret: string): Promise<string> {
  const body = b64url(new TextEncoder().encode(JSON.stringify(payload)));
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const sig = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`sf2.${body}`));
  return `sf2.${body}.${b64url(new Uint8Array(sig))}`;
}

describe('keyring', () => {
  it('signs with the first listed key and verifies with every one', () => {
    const ring = parseKeyring(` ${NEW} , ${OLD} `, 'ignored-when-a-list-is-set');
    expect(ring.signing.kid).toBe('k2');
    expect([...ring.byKid.keys()]).toEqual(['k2', 'k1']);
    expect(ring.byKid.get('k1')?.secret).toBe('old-secret-0123456789abcdef');
  });

  it('takes TOKEN_SECRET alone as the key "default", and a secret may hold colons', () => {
    expect(parseKeyring(undefined, 'single-secret-0123456789').signing).toEqual({
      kid: SINGLE_SECRET_KID,
      secret: 'single-secret-0123456789',
    });
    expect(parseKeyring('', 'single-secret-0123456789').signing.kid).toBe(SINGLE_SECRET_KID);
    expect(parseKeyring('a:b:c:0123456789abcdef', undefined).signing.secret).toBe('b:c:0123456789abcdef');
  });

  it('refuses no key, a short secret, a bad or repeated kid, an entry without a kid', () => {
    for (const [list, single] of [
      [undefined, undefined],
      ['', ''],
      ['k1:short', undefined],
      [undefined, 'short'],
      ['bad kid:0123456789abcdef', undefined],
      [`${NEW},k2:another-secret-0123456789`, undefined],
      ['0123456789abcdef0123', undefined],
      [':0123456789abcdef0123', undefined],
    ] as const) {
      expect(() => parseKeyring(list, single), String(list)).toThrow(TokenConfigError);
    }
  });

  it('reads the lifetime in seconds, 30 days by default, within bounds', () => {
    expect(tokenLifetimeMs({})).toBe(DEFAULT_TOKEN_TTL_SECONDS * 1000);
    expect(tokenLifetimeMs({ TOKEN_TTL_SECONDS: '3600' })).toBe(3_600_000);
    for (const bad of ['0', '59', '-5', '1.5', 'soon', String(400 * 86400)]) {
      expect(() => tokenLifetimeMs({ TOKEN_TTL_SECONDS: bad }), bad).toThrow(TokenConfigError);
    }
  });
});

describe('device tokens', () => {
  it('carry federation, device, generation, key id, issue and expiry times', async () => {
    const { token, claims } = await issue();
    expect(token).toMatch(/^sf2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(claims).toEqual({ ...device, keyId: 'k2', issuedAt: NOW, expiresAt: NOW + DAY });
    expect(await verifyDeviceToken(parseKeyring(`${NEW},${OLD}`, undefined), token, NOW + 1000)).toEqual({
      ok: true,
      claims,
    });
  });

  it('stay valid under their key while it is listed, and not once it is dropped', async () => {
    const { token } = await issue(OLD);
    const both = await verifyDeviceToken(parseKeyring(`${NEW},${OLD}`, undefined), token, NOW);
    expect(both.ok && both.claims.keyId).toBe('k1');
    expect(await rejection(token, NEW)).toBe('unknown-key');
  });

  it('are refused from their expiry on, and while their issue time is ahead of the clock', async () => {
    const { token } = await issue();
    expect(await rejection(token, undefined, NOW + DAY)).toBe('expired');
    expect(await rejection(token, undefined, NOW + 10 * DAY)).toBe('expired');
    // The clock of the verifying isolate may lag the issuer's a little.
    const early = await verifyDeviceToken(parseKeyring(NEW, undefined), token, NOW - CLOCK_SKEW_MS);
    expect(early.ok).toBe(true);
    expect(await rejection(token, undefined, NOW - CLOCK_SKEW_MS - 1)).toBe('not-yet-valid');
  });

  it('refuse a correctly signed payload with impossible claims', async () => {
    const secret = 'new-secret-0123456789abcdef';
    const base = { f: 'fed-a', d: 'dev-1', g: 1, k: 'k2', iat: NOW, exp: NOW + DAY };
    expect((await verifyDeviceToken(parseKeyring(NEW, undefined), await signed(base, secret), NOW)).ok).toBe(
      true,
    );
    for (const payload of [
      { ...base, iat: -1e15 },
      { ...base, exp: NOW - 1, iat: NOW },
      { ...base, g: -1 },
      { ...base, g: 1.5 },
      { ...base, extra: true },
      { f: 'fed-a', d: 'dev-1', iat: NOW },
      [base],
      'sf2',
    ]) {
      expect(await rejection(await signed(payload, secret), NEW), JSON.stringify(payload)).toBe('malformed');
    }
    expect(await rejection(await signed({ ...base, iat: NOW + DAY, exp: NOW + 2 * DAY }, secret), NEW)).toBe(
      'not-yet-valid',
    );
  });

  it('refuse forgeries: another secret under a listed kid, a changed payload, a changed signature', async () => {
    const forged = await signed(
      { f: 'fed-a', d: 'dev-1', g: 3, k: 'k2', iat: NOW, exp: NOW + DAY },
      'attacker-secret-0123456789',
    );
    expect(await rejection(forged)).toBe('bad-signature');
    const { token } = await issue();
    const [v, payload, sig] = token.split('.');
    const other = (await issue(NEW, NOW + 1)).token.split('.')[1];
    expect(await rejection(`${v}.${other}.${sig}`)).toBe('bad-signature');
    const flipped = `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await rejection(`${v}.${payload}.${flipped}`)).toBe('bad-signature');
    // The version is signed too: the same payload and signature under another version are not a token.
    expect(await rejection(`sf3.${payload}.${sig}`)).toBe('unsupported-version');
  });

  it('refuse the previous format and anything that is not a token', async () => {
    expect(await rejection('sf1.eyJmIjoiZmVkLWEiLCJkIjoiZGV2LTEiLCJpYXQiOjB9.c2ln')).toBe(
      'unsupported-version',
    );
    for (const junk of [
      '',
      'garbage',
      'sf2.',
      'sf2..',
      'sf2.a.b.c',
      'sf2.!!!.abc',
      'SF2.e30.abc',
      'jwt.e30.x',
    ]) {
      expect(await rejection(junk), junk).toBe('malformed');
    }
    const huge = b64url(new TextEncoder().encode(JSON.stringify({ f: 'x'.repeat(2000) })));
    expect(await rejection(`sf2.${huge}.abc`)).toBe('malformed');
  });

  it('never accept an arbitrary string', async () => {
    const ring = parseKeyring(`${NEW},${OLD}`, undefined);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (s) => {
        expect((await verifyDeviceToken(ring, s, NOW)).ok).toBe(false);
        expect((await verifyDeviceToken(ring, `sf2.${s}`, NOW)).ok).toBe(false);
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});
