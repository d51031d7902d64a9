// Key agreement and share encryption, all through WebCrypto (X25519, HKDF,
// AES-GCM), which workerd, Node and Chromium share. Each device makes two
// fresh X25519 pairs per round, as SecAgg does: one to agree pairwise mask
// seeds with every other member, one to encrypt the secret shares it sends
// them. Only the mask key is ever reconstructed (for a device that dropped
// after sharing), so revealing it cannot open the shares it exchanged.

const X25519 = { name: 'X25519' } as const;
const encoder = new TextEncoder();

export interface KeyPair {
  privateKey: CryptoKey;
  /** The raw 32-byte public key, what the roster carries. */
  publicKey: Uint8Array<ArrayBuffer>;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const pair = (await crypto.subtle.generateKey(X25519, true, ['deriveBits'])) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer);
  return { privateKey: pair.privateKey, publicKey };
}

/** The private key as PKCS#8, the form that is secret-shared. */
export async function exportPrivate(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array((await crypto.subtle.exportKey('pkcs8', key)) as ArrayBuffer);
}

export function importPrivate(pkcs8: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', pkcs8, X25519, false, ['deriveBits']);
}

/** X25519 then HKDF-SHA-256 bound to `purpose` and `context`: 32 bytes both ends derive alike. */
export async function agree(
  privateKey: CryptoKey,
  peerPublic: Uint8Array<ArrayBuffer>,
  purpose: 'mask' | 'share',
  context: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const peer = await crypto.subtle.importKey('raw', peerPublic, X25519, false, []);
  // `public` is the WebCrypto member; workerd's generated types spell it `$public`.
  const algorithm = { name: 'X25519', public: peer } as unknown as Parameters<SubtleCrypto['deriveBits']>[0];
  const shared = await crypto.subtle.deriveBits(algorithm, privateKey, 256);
  const ikm = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new Uint8Array(32),
      info: encoder.encode(`splitflare secagg ${purpose} ${context}`),
    },
    ikm,
    256,
  );
  return new Uint8Array(bits);
}

const gcmKey = (raw: Uint8Array<ArrayBuffer>, use: 'encrypt' | 'decrypt') =>
  crypto.subtle.importKey('raw', raw, 'AES-GCM', false, [use]);

/** AES-256-GCM with a random nonce, bound to `aad`; the nonce leads the ciphertext. */
export async function seal(
  key: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
  aad: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
    await gcmKey(key, 'encrypt'),
    plaintext,
  );
  const out = new Uint8Array(12 + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), 12);
  return out;
}

/** The plaintext, or null when the ciphertext was not sealed with this key and aad. */
export async function open(
  key: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>,
  aad: string,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (sealed.length < 12 + 16) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.subarray(0, 12), additionalData: encoder.encode(aad) },
      await gcmKey(key, 'decrypt'),
      sealed.subarray(12),
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}
