// One Durable Object per inference API key (named by its key id): the key's
// hash, its rate and its token bucket. Each request presenting the key is
// checked and counted here, so that work spreads over the keys instead of
// meeting in one object. The methods are synchronous SQL, so a check and its
// count cannot interleave with another request's.
import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import { fail, ok, type RpcResult } from '../rpc.js';
import { fullBucket, take } from './bucket.js';
import { type KeyRow, KeyStore } from './store.js';

export const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
const MAX_RATE = 1_000_000;

export const CreateKeyInput = z.object({
  keyId: z.string().regex(KEY_ID_PATTERN),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  name: z.string().max(128),
  ratePerMinute: z.number().int().min(1).max(MAX_RATE),
  burst: z.number().int().min(1).max(MAX_RATE),
});
export type CreateKeyInput = z.infer<typeof CreateKeyInput>;

/** What an admin sees of a key: never its hash. */
export interface KeyInfo {
  keyId: string;
  name: string;
  ratePerMinute: number;
  burst: number;
  createdAt: number;
  revokedAt: number | null;
  requests: number;
  limited: number;
  lastUsedAt: number | null;
}

export interface KeyUse {
  /** Requests per minute this key may make. */
  limit: number;
  /** Requests it may make right now. */
  remaining: number;
}

const info = ({ hash: _hash, bucket: _bucket, ...rest }: KeyRow): KeyInfo => rest;
const UNKNOWN = fail('unauthorized', 'The API key is not valid.', { extensions: { reason: 'unknown-key' } });

export class ApiKey extends DurableObject<Env> {
  readonly #store: KeyStore;
  #row: KeyRow | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new KeyStore(ctx.storage.sql);
  }

  async create(input: CreateKeyInput): Promise<RpcResult<KeyInfo>> {
    const parsed = CreateKeyInput.safeParse(input);
    if (!parsed.success) return fail('bad-request', `Invalid key: ${parsed.error.message}`);
    if (this.#load()) return fail('conflict', 'A key with this id already exists.');
    const now = Date.now();
    const row: KeyRow = {
      ...parsed.data,
      createdAt: now,
      revokedAt: null,
      bucket: fullBucket({ perMinute: parsed.data.ratePerMinute, burst: parsed.data.burst }, now),
      requests: 0,
      limited: 0,
      lastUsedAt: null,
    };
    this.#save(row);
    return ok(info(row));
  }

  /** Checks the key (by its hash) and takes one request from its bucket. */
  async consume(hash: string): Promise<RpcResult<KeyUse>> {
    const row = this.#load();
    if (!row || typeof hash !== 'string' || !sameHex(hash, row.hash)) return UNKNOWN;
    if (row.revokedAt !== null) {
      return fail('unauthorized', 'The API key has been revoked.', { extensions: { reason: 'revoked-key' } });
    }
    const now = Date.now();
    const rate = { perMinute: row.ratePerMinute, burst: row.burst };
    const took = take(row.bucket, rate, now);
    const next: KeyRow = {
      ...row,
      bucket: took.bucket,
      requests: row.requests + 1,
      limited: row.limited + (took.allowed ? 0 : 1),
      lastUsedAt: now,
    };
    this.#save(next);
    if (!took.allowed) {
      return fail('too-many-requests', `This API key may make ${row.ratePerMinute} requests a minute.`, {
        retryAfter: took.retryAfterSeconds,
        extensions: { limit: row.ratePerMinute, burst: row.burst },
      });
    }
    return ok({ limit: row.ratePerMinute, remaining: took.remaining });
  }

  /** Refuses the key from now on. Idempotent. */
  async revoke(): Promise<RpcResult<KeyInfo>> {
    const row = this.#load();
    if (!row) return fail('not-found', 'No API key with this id.');
    if (row.revokedAt !== null) return ok(info(row));
    const next = { ...row, revokedAt: Date.now() };
    this.#save(next);
    return ok(info(next));
  }

  async describe(): Promise<RpcResult<KeyInfo>> {
    const row = this.#load();
    return row ? ok(info(row)) : fail('not-found', 'No API key with this id.');
  }

  #load(): KeyRow | null {
    if (this.#row === undefined) this.#row = this.#store.read();
    return this.#row;
  }

  #save(row: KeyRow): void {
    try {
      this.#store.write(row);
    } catch (err) {
      this.#row = undefined;
      throw err;
    }
    this.#row = row;
  }
}

/** Constant-time comparison of two hex digests. */
function sameHex(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
