// The shared tail's SQLite storage: one row (what it was set up with, the
// round's step counter, the step in flight), each device's last turn, and
// blobs (the input of the step in flight, each device's last answer). A
// step's turn, answer and counter are written in one transaction.
import { decodeSafetensors, encodeSafetensors } from '../../common/safetensors.js';
import type { Activation } from '../../edge/pipeline.js';
import { Manifest } from '../../protocol/manifest.js';
import { BlobTable } from '../blobs.js';
import { LazyTable } from '../tables.js';

/** A device's step as the shared tail tracks it. */
export interface InFlight {
  deviceId: string;
  seq: number;
  digest: string;
}

export interface SharedTailRow {
  /** What the round's tail was set up from (its ticket's round part, optimizer, tail digest). */
  key: string;
  manifest: Manifest;
  deadline: number;
  /** The number the shards expect next: steps taken this round, by every device. */
  nextStep: number;
  /** The step written ahead and not yet committed, if any. */
  inFlight: InFlight | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS shared_tail (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  key TEXT NOT NULL,
  manifest TEXT NOT NULL,
  deadline INTEGER NOT NULL,
  next_step INTEGER NOT NULL,
  in_flight TEXT
);
CREATE TABLE IF NOT EXISTS turns (
  device TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  digest TEXT NOT NULL
);`;

type Row = Record<string, SqlStorageValue>;

export class SharedTailStore {
  private readonly sql: SqlStorage;
  private readonly table: LazyTable;
  private readonly blobs: BlobTable<string>;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.table = new LazyTable(this.sql, 'shared_tail', SCHEMA);
    this.blobs = new BlobTable(this.sql);
  }

  read(): SharedTailRow | null {
    if (!this.table.exists) return null;
    const r = this.sql.exec<Row>('SELECT * FROM shared_tail WHERE id = 0').toArray()[0];
    if (!r) return null;
    return {
      key: r.key as string,
      manifest: Manifest.parse(JSON.parse(r.manifest as string)),
      deadline: r.deadline as number,
      nextStep: r.next_step as number,
      inFlight: r.in_flight ? (JSON.parse(r.in_flight as string) as InFlight) : null,
    };
  }

  create(row: SharedTailRow): void {
    this.storage.transactionSync(() => {
      this.table.ensure();
      this.sql.exec(
        'INSERT INTO shared_tail (id, key, manifest, deadline, next_step, in_flight) VALUES (0, ?, ?, ?, ?, NULL)',
        row.key,
        JSON.stringify(row.manifest),
        row.deadline,
        row.nextStep,
      );
    });
  }

  lastTurn(deviceId: string): { seq: number; digest: string } | null {
    const r = this.sql.exec<Row>('SELECT seq, digest FROM turns WHERE device = ?', deviceId).toArray()[0];
    return r ? { seq: r.seq as number, digest: r.digest as string } : null;
  }

  readAnswer(deviceId: string): Uint8Array<ArrayBuffer> | null {
    return this.blobs.read(answerKind(deviceId));
  }

  /** Writes the step and its input ahead of the shards. */
  begin(step: InFlight, input: { activation: Activation; labels: Int32Array }): void {
    const bytes = encodeSafetensors(
      new Map([
        [
          'activation',
          { dtype: 'float32' as const, dims: input.activation.shape, data: input.activation.data },
        ],
        ['labels', { dtype: 'int32' as const, dims: [input.labels.length], data: input.labels }],
      ]),
    );
    this.storage.transactionSync(() => {
      this.blobs.write('input', bytes);
      this.sql.exec('UPDATE shared_tail SET in_flight = ? WHERE id = 0', JSON.stringify(step));
    });
  }

  readInput(): { activation: Activation; labels: Int32Array } | null {
    const bytes = this.blobs.read('input');
    if (!bytes) return null;
    const { tensors } = decodeSafetensors(bytes);
    const a = tensors.get('activation');
    const l = tensors.get('labels');
    if (a?.dtype !== 'float32' || l?.dtype !== 'int32') throw new Error('the stored step input is malformed');
    return { activation: { shape: a.dims, data: a.data }, labels: l.data };
  }

  /** The step's turn and answer, the round's new step count, and no step in flight. */
  commit(step: InFlight, answer: Uint8Array, nextStep: number): void {
    this.storage.transactionSync(() => {
      this.sql.exec(
        'INSERT OR REPLACE INTO turns (device, seq, digest) VALUES (?, ?, ?)',
        step.deviceId,
        step.seq,
        step.digest,
      );
      this.blobs.write(answerKind(step.deviceId), answer);
      this.blobs.write('input', []);
      this.sql.exec('UPDATE shared_tail SET next_step = ?, in_flight = NULL WHERE id = 0', nextStep);
    });
  }

  /** Drops a step no shard committed. */
  abandon(): void {
    this.storage.transactionSync(() => {
      this.blobs.write('input', []);
      this.sql.exec('UPDATE shared_tail SET in_flight = NULL WHERE id = 0');
    });
  }
}

// Device ids never contain '/', so no answer's kind can be 'input'.
const answerKind = (deviceId: string) => `answer/${deviceId}`;
