// Named byte blobs in a Durable Object's SQLite, each stored as ordered pieces
// under the 2 MB row limit (chunks.ts). The session and the tail shards keep
// their trainables, optimizer state and last answer this way; writes happen
// inside the caller's transaction.
import { exactBuffer, joinBytes, splitBytes } from './chunks.js';
import { LazyTable } from './tables.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS blobs (
  kind TEXT NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (kind, part)
)`;

export class BlobTable<Kind extends string> {
  readonly #table: LazyTable;

  constructor(private readonly sql: SqlStorage) {
    this.#table = new LazyTable(sql, 'blobs', SCHEMA);
  }

  /** A blob's pieces in order (an optimizer state is read as the pieces it was written as). */
  pieces(kind: Kind): Uint8Array<ArrayBuffer>[] {
    if (!this.#table.exists) return [];
    return this.sql
      .exec<{ data: ArrayBuffer }>('SELECT data FROM blobs WHERE kind = ? ORDER BY part', kind)
      .toArray()
      .map((r) => new Uint8Array(r.data));
  }

  read(kind: Kind): Uint8Array<ArrayBuffer> | null {
    const pieces = this.pieces(kind);
    return pieces.length === 0 ? null : joinBytes(pieces);
  }

  /** Replaces a blob: one byte string (split here) or pieces already cut by their encoder. */
  write(kind: Kind, bytes: Uint8Array | readonly Uint8Array[]): void {
    const pieces = bytes instanceof Uint8Array ? splitBytes(bytes) : bytes;
    this.#table.ensure();
    this.sql.exec('DELETE FROM blobs WHERE kind = ?', kind);
    pieces.forEach((piece, part) => {
      this.sql.exec('INSERT INTO blobs (kind, part, data) VALUES (?, ?, ?)', kind, part, exactBuffer(piece));
    });
  }

  clear(): void {
    if (this.#table.exists) this.sql.exec('DELETE FROM blobs');
  }
}
