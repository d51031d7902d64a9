// Tables made on first write. A Durable Object whose storage is only read (a
// step for a round the device never joined, a status query) then writes
// nothing and leaves no SQLite database behind: a device cannot create
// storage on demand. Existence is asked of SQLite every time rather than
// cached, so it stays right after ctx.storage.deleteAll().

export class LazyTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly name: string,
    private readonly schema: string,
  ) {}

  /** Whether the table exists; a reader of a missing table finds nothing. */
  get exists(): boolean {
    return (
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", this.name).toArray()
        .length > 0
    );
  }

  /** Creates the table before a write (a no-op once it exists). */
  ensure(): void {
    if (!this.exists) this.sql.exec(this.schema);
  }
}
