// A tail shard's SQLite storage: one row (what it was initialised with, the
// step counter, the last step's digest) and blobs (its trainables, their
// optimizer state, the last step's answer). A step's changes are written in
// one transaction.
import { z } from 'zod';
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { ShardSpec, TrainableSpec } from '../../protocol/manifest.js';
import { BlobTable } from '../blobs.js';
import { LazyTable } from '../tables.js';

export const ShardSetup = z.object({
  ticket: Ticket,
  shard: ShardSpec,
  microBatch: z.number().int().positive(),
  gradInput: z.string().min(1),
  /** The labels input of the last shard's backward graph. */
  labels: z.string().min(1),
  last: z.boolean(),
  specs: z.array(TrainableSpec),
  optimizer: OptimizerConfig,
});
export type ShardSetup = z.infer<typeof ShardSetup>;

export interface ShardRow {
  setup: ShardSetup;
  nextSeq: number;
  /** Digest of the step nextSeq − 1, to tell its replay from a different step under the same number. */
  lastDigest: string | null;
  finishedAt: number | null;
}

export type ShardBlob = 'params' | 'optimizer' | 'answer';

const SCHEMA = `CREATE TABLE IF NOT EXISTS shard (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  setup TEXT NOT NULL,
  next_seq INTEGER NOT NULL,
  last_digest TEXT,
  finished_at INTEGER
)`;

export class ShardStore {
  readonly blobs: BlobTable<ShardBlob>;
  private readonly sql: SqlStorage;
  private readonly table: LazyTable;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.table = new LazyTable(this.sql, 'shard', SCHEMA);
    this.blobs = new BlobTable(this.sql);
  }

  read(): ShardRow | null {
    if (!this.table.exists) return null;
    const r = this.sql.exec<Record<string, SqlStorageValue>>('SELECT * FROM shard WHERE id = 0').toArray()[0];
    if (!r) return null;
    return {
      setup: ShardSetup.parse(JSON.parse(r.setup as string)),
      nextSeq: r.next_seq as number,
      lastDigest: (r.last_digest as string | null) ?? null,
      finishedAt: (r.finished_at as number | null) ?? null,
    };
  }

  create(row: ShardRow, params: Uint8Array, optimizer: readonly Uint8Array[]): void {
    this.storage.transactionSync(() => {
      this.writeRow(row);
      this.blobs.clear();
      this.blobs.write('params', params);
      this.blobs.write('optimizer', optimizer);
    });
  }

  commitStep(row: ShardRow, params: Uint8Array, optimizer: readonly Uint8Array[], answer: Uint8Array): void {
    this.storage.transactionSync(() => {
      this.writeRow(row);
      this.blobs.write('params', params);
      this.blobs.write('optimizer', optimizer);
      this.blobs.write('answer', answer);
    });
  }

  markFinished(at: number): void {
    if (!this.table.exists) return;
    this.sql.exec('UPDATE shard SET finished_at = ? WHERE id = 0 AND finished_at IS NULL', at);
  }

  private writeRow(r: ShardRow): void {
    this.table.ensure();
    this.sql.exec(
      'INSERT OR REPLACE INTO shard (id, setup, next_seq, last_digest, finished_at) VALUES (0, ?, ?, ?, ?)',
      JSON.stringify(r.setup),
      r.nextSeq,
      r.lastDigest,
      r.finishedAt,
    );
  }
}
