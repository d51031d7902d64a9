// Inference API keys: `sfk_<key id>_<secret>`, 16 and 64 hex digits. The key
// id names the key's Durable Object, so a request reaches its key's object
// without a lookup; the object holds only the key's SHA-256, so its storage
// never holds a usable key. Shown to the admin once, at creation.
import { sha256Hex } from '../../common/digest.js';
import { bearer } from './middleware.js';

const KEY_PATTERN = /^sfk_([0-9a-f]{16})_([0-9a-f]{64})$/;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function newApiKey(): { keyId: string; key: string } {
  const keyId = hex(crypto.getRandomValues(new Uint8Array(8)));
  return { keyId, key: `sfk_${keyId}_${hex(crypto.getRandomValues(new Uint8Array(32)))}` };
}

/** The key id of a well-formed key, or undefined. */
export function apiKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

export const hashApiKey = (key: string): Promise<string> => sha256Hex(new TextEncoder().encode(key));

/** The API key a request presents: `x-api-key`, else `Authorization: Bearer`. */
export function presentedApiKey(headers: { header(name: string): string | undefined }): string | undefined {
  const direct = headers.header('x-api-key')?.trim();
  return direct ? direct : bearer(headers.header('authorization'));
}
