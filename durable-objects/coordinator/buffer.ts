// Every accepted update of the round in progress, kept for the strategies that
// aggregate all of them at once (median, trimmed mean, Multi-Krum, clipped
// FedAvg). Plain FedAvg folds updates into running sums instead and keeps
// none. Rows are small pieces of a tensor so that aggregation can read the
// same coordinate range of every client without holding whole updates: a
// round of n clients is read as slices of at most SLICE_BYTES / n / 4
// coordinates per client (see aggregationSlice). Deleted when the round
// closes.

/** Coordinates per stored row (16 KiB of float32). */
export const PIECE_FLOATS = 4096;
/** What one slice of a round may occupy across all its clients. */
export const SLICE_BYTES = 16 * 1024 * 1024;

const SCHEMA = `CREATE TABLE IF NOT EXISTS updates (
  round INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  piece INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (round, device_id, name, piece)
)`;

/** Coordinates per client read at once for a round of `clients` updates: whole pieces, at least one. */
export function aggregationSlice(clients: number): number {
  const pieces = Math.floor(SLICE_BYTES / 4 / Math.max(1, clients) / PIECE_FLOATS);
  return Math.max(1, pieces) * PIECE_FLOATS;
}

export class UpdateBuffer {
  #ready = false;

  constructor(private readonly sql: SqlStorage) {}

  /** The table is made on first use, so a federation that never buffers stores nothing for it. */
  #table(): void {
    if (this.#ready) return;
    this.sql.exec(SCHEMA);
    this.#ready = true;
  }

  put(round: number, deviceId: string, tensors: ReadonlyMap<string, Float32Array>): void {
    this.#table();
    for (const [name, values] of tensors) {
      for (let piece = 0; piece * PIECE_FLOATS < values.length; piece++) {
        const part = values.slice(piece * PIECE_FLOATS, (piece + 1) * PIECE_FLOATS);
        this.sql.exec(
          'INSERT INTO updates (round, device_id, name, piece, data) VALUES (?, ?, ?, ?, ?)',
          round,
          deviceId,
          name,
          piece,
          part.buffer,
        );
      }
    }
  }

  /** Coordinates [from, to) of one device's values of one trainable. */
  read(round: number, deviceId: string, name: string, from: number, to: number): Float32Array {
    this.#table();
    const first = Math.floor(from / PIECE_FLOATS);
    const end = Math.ceil(to / PIECE_FLOATS);
    const rows = this.sql
      .exec<{ piece: number; data: ArrayBuffer }>(
        `SELECT piece, data FROM updates
         WHERE round = ? AND device_id = ? AND name = ? AND piece >= ? AND piece < ? ORDER BY piece`,
        round,
        deviceId,
        name,
        first,
        end,
      )
      .toArray();
    const out = new Float32Array(to - from);
    let expected = first;
    for (const row of rows) {
      if (row.piece !== expected) break;
      const values = new Float32Array(row.data);
      const start = row.piece * PIECE_FLOATS;
      const lo = Math.max(from, start);
      const hi = Math.min(to, start + values.length);
      out.set(values.subarray(lo - start, hi - start), lo - from);
      expected++;
    }
    const stored = rows.length === end - first && expected === end;
    const last = rows.at(-1);
    if (!stored || !last || last.piece * PIECE_FLOATS + last.data.byteLength / 4 < to) {
      throw new Error(
        `update ${name} of ${deviceId} in round ${round}: coordinates [${from}, ${to}) are not stored`,
      );
    }
    return out;
  }

  /** Forgets one device's values (a shared tail's reading replaced by a later one). */
  drop(round: number, deviceId: string): void {
    this.#table();
    this.sql.exec('DELETE FROM updates WHERE round = ? AND device_id = ?', round, deviceId);
  }

  clear(round: number): void {
    this.#table();
    this.sql.exec('DELETE FROM updates WHERE round = ?', round);
  }
}
