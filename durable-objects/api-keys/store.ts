// The API key object's SQLite row: what the key is (its hash, never the key),
// its rate, its token bucket and its counters, all in one row so a request's
// check-and-count is one read and one write.
import type { Bucket } from './bucket.js';

export interface KeyRow {
  keyId: string;
  /** SHA-256 (hex) of the whole key. */
  hash: string;
  name: string;
  ratePerMinute: number;
  burst: number;
  createdAt: number;
  revokedAt: number | null;
  bucket: Bucket;
  /** Requests that presented this key, the refused ones included. */
  requests: number;
  /** Requests refused for the rate. */
  limited: number;
  lastUsedAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_key (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  key_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  name TEXT NOT NULL,
  rate_per_minute INTEGER NOT NULL,
  burst INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  tokens REAL NOT NULL,
  refilled_at INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  limited INTEGER NOT NULL,
  last_used_at INTEGER
);`;

type Raw = {
  key_id: string;
  hash: string;
  name: string;
  rate_per_minute: number;
  burst: number;
  created_at: number;
  revoked_at: number | null;
  tokens: number;
  refilled_at: number;
  requests: number;
  limited: number;
  last_used_at: number | null;
};

export class KeyStore {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * The row, or null. Looked up without creating the table, so a request
   * naming a key that never existed stores nothing in the object it reaches.
   */
  read(): KeyRow | null {
    const table = this.sql
      .exec(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'api_key'`)
      .toArray();
    if (table.length === 0) return null;
    const r = this.sql.exec<Raw>('SELECT * FROM api_key WHERE id = 0').toArray()[0];
    if (!r) return null;
    return {
      keyId: r.key_id,
      hash: r.hash,
      name: r.name,
      ratePerMinute: r.rate_per_minute,
      burst: r.burst,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
      bucket: { tokens: r.tokens, at: r.refilled_at },
      requests: r.requests,
      limited: r.limited,
      lastUsedAt: r.last_used_at,
    };
  }

  write(k: KeyRow): void {
    this.sql.exec(SCHEMA);
    this.sql.exec(
      `INSERT OR REPLACE INTO api_key (id, key_id, hash, name, rate_per_minute, burst, created_at, revoked_at,
         tokens, refilled_at, requests, limited, last_used_at)
       VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      k.keyId,
      k.hash,
      k.name,
      k.ratePerMinute,
      k.burst,
      k.createdAt,
      k.revokedAt,
      k.bucket.tokens,
      k.bucket.at,
      k.requests,
      k.limited,
      k.lastUsedAt,
    );
  }
}
