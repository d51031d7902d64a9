// The session's SQLite storage: one row of scalars and JSON (the ticket, the
// model's manifest as it was when the session began, the counters) and the
// last answer as a blob. A step's row and answer are written in one
// synchronous transaction, so an eviction or a crash leaves either the state
// before the step or the state after it.
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { Manifest } from '../../protocol/manifest.js';
import { BlobTable } from '../blobs.js';
import { LazyTable } from '../tables.js';

export interface SessionRow {
  ticket: Ticket;
  optimizer: OptimizerConfig;
  /** Kept with the session, so replacing the model in the registry never changes a round under way. */
  manifest: Manifest;
  /** The seq the next new step must carry; also the number of steps taken. */
  nextSeq: number;
  uplinkBytes: number;
  downlinkBytes: number;
  samples: number;
  correct: number;
  lossSum: number;
  /** SHA-256 (hex) of the body of step nextSeq − 1, to tell a retry from a different step. */
  lastDigest: string | null;
  finishedAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS session (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  ticket TEXT NOT NULL,
  optimizer TEXT NOT NULL,
  manifest TEXT NOT NULL,
  next_seq INTEGER NOT NULL,
  uplink_bytes INTEGER NOT NULL,
  downlink_bytes INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  correct INTEGER NOT NULL,
  loss_sum REAL NOT NULL,
  last_digest TEXT,
  finished_at INTEGER
);`;

type Row = Record<string, SqlStorageValue>;

export class SessionStore {
  private readonly sql: SqlStorage;
  private readonly blobs: BlobTable<'answer'>;
  private readonly table: LazyTable;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.table = new LazyTable(this.sql, 'session', SCHEMA);
    this.blobs = new BlobTable(this.sql);
  }

  read(): SessionRow | null {
    if (!this.table.exists) return null;
    const r = this.sql.exec<Row>('SELECT * FROM session WHERE id = 0').toArray()[0];
    if (!r) return null;
    // Stored by this class from parsed values; parsing again guards against a schema drift.
    return {
      ticket: Ticket.parse(JSON.parse(r.ticket as string)),
      optimizer: OptimizerConfig.parse(JSON.parse(r.optimizer as string)),
      manifest: Manifest.parse(JSON.parse(r.manifest as string)),
      nextSeq: r.next_seq as number,
      uplinkBytes: r.uplink_bytes as number,
      downlinkBytes: r.downlink_bytes as number,
      samples: r.samples as number,
      correct: r.correct as number,
      lossSum: r.loss_sum as number,
      lastDigest: (r.last_digest as string | null) ?? null,
      finishedAt: (r.finished_at as number | null) ?? null,
    };
  }

  readAnswer(): Uint8Array<ArrayBuffer> | null {
    return this.blobs.read('answer');
  }

  create(row: SessionRow): void {
    this.storage.transactionSync(() => {
      this.table.ensure();
      this.sql.exec('DELETE FROM session');
      this.blobs.clear();
      this.writeRow(row);
    });
  }

  /** Everything one step changes, atomically. */
  commitStep(row: SessionRow, answer: Uint8Array): void {
    this.storage.transactionSync(() => {
      this.writeRow(row);
      this.blobs.write('answer', answer);
    });
  }

  markFinished(at: number): void {
    if (!this.table.exists) return;
    this.sql.exec('UPDATE session SET finished_at = ? WHERE id = 0 AND finished_at IS NULL', at);
  }

  private writeRow(r: SessionRow): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO session (id, ticket, optimizer, manifest, next_seq, uplink_bytes, downlink_bytes,
         samples, correct, loss_sum, last_digest, finished_at)
       VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      JSON.stringify(r.ticket),
      JSON.stringify(r.optimizer),
      JSON.stringify(r.manifest),
      r.nextSeq,
      r.uplinkBytes,
      r.downlinkBytes,
      r.samples,
      r.correct,
      r.lossSum,
      r.lastDigest,
      r.finishedAt,
    );
  }
}
