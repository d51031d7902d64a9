// The session's copy of its device's standing: the lowest token generation it
// honours (its floor). Steps are checked here, never at the coordinator, so
// per-step work stays in this object. The floor only ever rises: from the
// generation the join passed in, from a newer token the device steps with
// (which only a re-enrolment could have produced), and from the coordinator's
// push at re-enrolment or revocation (durable-objects/coordinator/devices.ts).
//
// Kept apart from the session row because a revocation can arrive before the
// join that would create the row, and must still refuse that join.
import { fail, type RpcFailure } from '../rpc.js';
import { LazyTable } from '../tables.js';

/** Why tokens below the floor are refused, as the 401's `reason`. */
export type FloorReason = 'revoked' | 'superseded';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS credential (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  floor INTEGER NOT NULL,
  reason TEXT NOT NULL
);`;

interface Standing {
  floor: number;
  reason: FloorReason;
}

export class CredentialFloor {
  #standing: Standing | undefined;
  readonly #table: LazyTable;

  constructor(private readonly sql: SqlStorage) {
    this.#table = new LazyTable(sql, 'credential', SCHEMA);
  }

  get floor(): number {
    return this.#read().floor;
  }

  /** Raises the floor (never lowers it); a revocation at the current floor still records its reason. */
  raise(to: number, reason: FloorReason): void {
    const now = this.#read();
    if (to < now.floor || (to === now.floor && reason === now.reason)) return;
    this.#table.ensure();
    this.sql.exec('INSERT OR REPLACE INTO credential (id, floor, reason) VALUES (0, ?, ?)', to, reason);
    this.#standing = { floor: to, reason };
  }

  /**
   * Refuses a token of a generation below the floor; accepts any other and
   * raises the floor to it, so a device's newer token voids its older ones here
   * as soon as it is used.
   */
  admit(generation: number): RpcFailure | null {
    const { floor, reason } = this.#read();
    if (!Number.isSafeInteger(generation) || generation < floor) {
      const detail =
        reason === 'revoked'
          ? 'This device has been revoked.'
          : 'This token was superseded: the device was enrolled again.';
      return fail('unauthorized', detail, { extensions: { reason } });
    }
    if (generation > floor) this.raise(generation, 'superseded');
    return null;
  }

  #read(): Standing {
    if (!this.#standing) {
      const row = !this.#table.exists
        ? undefined
        : this.sql
            .exec<{ floor: number; reason: string }>('SELECT floor, reason FROM credential WHERE id = 0')
            .toArray()[0];
      this.#standing = row
        ? { floor: row.floor, reason: row.reason === 'revoked' ? 'revoked' : 'superseded' }
        : { floor: 0, reason: 'superseded' };
    }
    return this.#standing;
  }
}
