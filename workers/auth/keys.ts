// The keys device tokens are signed with, and their lifetime, from the
// Worker's configuration. TOKEN_SECRETS lists `kid:secret` pairs, newest
// first: the first signs, every listed one verifies. Rotating is adding a new
// pair in front, waiting out the token lifetime (or until devices have
// refreshed), then dropping the old pair; tokens name their kid, so a dropped
// key voids exactly the tokens it signed. TOKEN_SECRET alone is the single
// key `default`, which keeps a one-secret (local, dev) setup working and lets
// a deployment move to TOKEN_SECRETS by listing its old secret as `default`.
//
// No Env type here: the token codec is unit-tested in Node.

export interface TokenKey {
  readonly kid: string;
  readonly secret: string;
}

export interface TokenKeyring {
  /** Signs every new token. */
  readonly signing: TokenKey;
  /** Every key a token may name, the signing one included. */
  readonly byKid: ReadonlyMap<string, TokenKey>;
}

/** The configuration the keyring and the lifetime are read from (a subset of the Worker's Env). */
export interface TokenSettings {
  TOKEN_SECRETS?: string;
  TOKEN_SECRET?: string;
  TOKEN_TTL_SECONDS?: string;
}

/** The kid TOKEN_SECRET signs under. */
export const SINGLE_SECRET_KID = 'default';
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Shorter secrets are guessable offline from one captured token. */
export const MIN_SECRET_LENGTH = 16;

export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 366 * 24 * 3600;

/** The operator's configuration is unusable; requests that need a token answer 500 and the log says why. */
export class TokenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

export function parseKeyring(list: string | undefined, single: string | undefined): TokenKeyring {
  const keys = list?.trim() ? parseList(list) : single ? [checked(SINGLE_SECRET_KID, single)] : [];
  if (keys.length === 0) throw new TokenConfigError('No token key: set TOKEN_SECRETS (or TOKEN_SECRET).');
  return { signing: keys[0], byKid: new Map(keys.map((k) => [k.kid, k])) };
}

function parseList(list: string): TokenKey[] {
  const keys: TokenKey[] = [];
  for (const entry of list.split(',')) {
    const item = entry.trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon <= 0) throw new TokenConfigError('TOKEN_SECRETS entries are kid:secret, comma-separated.');
    const key = checked(item.slice(0, colon), item.slice(colon + 1));
    if (keys.some((k) => k.kid === key.kid)) {
      throw new TokenConfigError(`TOKEN_SECRETS lists kid "${key.kid}" twice.`);
    }
    keys.push(key);
  }
  return keys;
}

function checked(kid: string, secret: string): TokenKey {
  if (!KID_PATTERN.test(kid)) {
    throw new TokenConfigError(`Token kid "${kid}" must be 1-32 letters, digits, "-" or "_".`);
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new TokenConfigError(`The secret of token kid "${kid}" is shorter than ${MIN_SECRET_LENGTH}.`);
  }
  return { kid, secret };
}

const keyrings = new Map<string, TokenKeyring>();

/** The keyring of this configuration, parsed once per isolate. */
export function keyringOf(settings: TokenSettings): TokenKeyring {
  const cacheKey = `${settings.TOKEN_SECRETS ?? ''}\u0000${settings.TOKEN_SECRET ?? ''}`;
  let ring = keyrings.get(cacheKey);
  if (!ring) {
    ring = parseKeyring(settings.TOKEN_SECRETS, settings.TOKEN_SECRET);
    keyrings.set(cacheKey, ring);
  }
  return ring;
}

/** How long a new token lives, in milliseconds (TOKEN_TTL_SECONDS, 30 days by default). */
export function tokenLifetimeMs(settings: TokenSettings): number {
  const raw = settings.TOKEN_TTL_SECONDS?.trim();
  if (!raw) return DEFAULT_TOKEN_TTL_SECONDS * 1000;
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds < MIN_TTL_SECONDS || seconds > MAX_TTL_SECONDS) {
    throw new TokenConfigError(
      `TOKEN_TTL_SECONDS must be an integer from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}, not "${raw}".`,
    );
  }
  return seconds * 1000;
}
