// The session's SQLite storage: one row of scalars and JSON, and byte blobs in
// pieces (the trainables, the optimizer state, the last answer). Everything a
// step changes is written in one synchronous transaction, so an eviction or a
// crash leaves either the state before the step or the state after it, never
// trainables of one step with the answer or counters of another.
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { exactBuffer, joinBytes, splitBytes } from '../chunks.js';

export type BlobKind = 'params' | 'optimizer' | 'answer';

export interface SessionRow {
  ticket: Ticket;
  optimizer: OptimizerConfig;
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
  next_seq INTEGER NOT NULL,
  uplink_bytes INTEGER NOT NULL,
  downlink_bytes INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  correct INTEGER NOT NULL,
  loss_sum REAL NOT NULL,
  last_digest TEXT,
  finished_at INTEGER
);
CREATE TABLE IF NOT EXISTS blobs (
  kind TEXT NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (kind, part)
);`;

type Row = Record<string, SqlStorageValue>;

export class SessionStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
  }

  read(): SessionRow | null {
    const r = this.sql.exec<Row>('SELECT * FROM session WHERE id = 0').toArray()[0];
    if (!r) return null;
    // Stored by this class from parsed values; parsing again guards against a schema drift.
    return {
      ticket: Ticket.parse(JSON.parse(r.ticket as string)),
      optimizer: OptimizerConfig.parse(JSON.parse(r.optimizer as string)),
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

  /** A blob's pieces in order (the optimizer state is read as the pieces it was written as). */
  readPieces(kind: BlobKind): Uint8Array<ArrayBuffer>[] {
    return this.sql
      .exec<{ data: ArrayBuffer }>('SELECT data FROM blobs WHERE kind = ? ORDER BY part', kind)
      .toArray()
      .map((r) => new Uint8Array(r.data));
  }

  readBlob(kind: BlobKind): Uint8Array<ArrayBuffer> | null {
    const pieces = this.readPieces(kind);
    return pieces.length === 0 ? null : joinBytes(pieces);
  }

  /** Creates the session, or replaces one: the caller decides whether that is allowed. */
  create(row: SessionRow, params: Uint8Array, optimizer: Uint8Array[]): void {
    this.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM session');
      this.sql.exec('DELETE FROM blobs');
      this.writeRow(row);
      this.writeBlob('params', splitBytes(params));
      this.writeBlob('optimizer', optimizer);
    });
  }

  /** Everything one step changes, atomically. */
  commitStep(row: SessionRow, params: Uint8Array, optimizer: Uint8Array[], answer: Uint8Array): void {
    this.storage.transactionSync(() => {
      this.writeRow(row);
      this.writeBlob('params', splitBytes(params));
      this.writeBlob('optimizer', optimizer);
      this.writeBlob('answer', splitBytes(answer));
    });
  }

  markFinished(at: number): void {
    this.sql.exec('UPDATE session SET finished_at = ? WHERE id = 0 AND finished_at IS NULL', at);
  }

  private writeRow(r: SessionRow): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO session (id, ticket, optimizer, next_seq, uplink_bytes, downlink_bytes,
         samples, correct, loss_sum, last_digest, finished_at)
       VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      JSON.stringify(r.ticket),
      JSON.stringify(r.optimizer),
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

  private writeBlob(kind: BlobKind, pieces: readonly Uint8Array[]): void {
    this.sql.exec('DELETE FROM blobs WHERE kind = ?', kind);
    pieces.forEach((piece, part) => {
      this.sql.exec('INSERT INTO blobs (kind, part, data) VALUES (?, ?, ?)', kind, part, exactBuffer(piece));
    });
  }
}
