// Submitting the head update. The body carries an idempotency key that stays
// the same across retries of one submission, so a retry after a lost answer is
// applied once (the coordinator answers 200 duplicate) and the transport may
// retry it like any idempotent request.
import { z } from 'zod';
import { UPDATE_CONTENT_TYPE } from '../../protocol/media.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../protocol/update.js';
import { ProtocolError } from '../errors.js';
import { sha256Hex } from '../integrity.js';
import { parseJsonBody } from '../transport/json-body.js';
import { type HttpContext, send } from './http.js';

const SubmitAnswer = z.object({
  round: z.number().int().nonnegative(),
  participants: z.number().int().nonnegative(),
  duplicate: z.boolean(),
});
export type SubmitAnswer = z.infer<typeof SubmitAnswer>;

/**
 * `${federationId}/${round}/${deviceId}/${nonce}`: readable in the server's
 * logs, unique per submission attempt of a round. Ids near their maximum
 * length would overflow the format's limit (MAX_IDEMPOTENCY_KEY_LENGTH);
 * then the prefix is hashed.
 */
export async function idempotencyKey(
  federationId: string,
  round: number,
  deviceId: string,
  nonce: string,
): Promise<string> {
  const prefix = `${federationId}/${round}/${deviceId}`;
  const key = `${prefix}/${nonce}`;
  if (key.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return key;
  return `${await sha256Hex(new TextEncoder().encode(prefix))}/${nonce}`;
}

/** A random nonce (not seeded: two runs of the same seed must not collide). */
export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function submitUpdate(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  ctx: HttpContext,
): Promise<SubmitAnswer> {
  const headers = { 'content-type': UPDATE_CONTENT_TYPE, accept: 'application/json' };
  const answer = (await send(url, { method: 'POST', headers, body }, ctx)).body;
  return parseJsonBody(answer, SubmitAnswer, 'the submit answer', (m, o) => new ProtocolError(m, o));
}
