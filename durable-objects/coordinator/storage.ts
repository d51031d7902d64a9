// The coordinator's SQLite schema and every query it runs. SQLite is the
// single source of truth: the object keeps nothing in memory that it could
// not rebuild from these tables after an eviction.

import { EvaluationRecord } from '../../protocol/evaluation.js';
import { FederationConfig, type RoundStatus, type SplitFedMode } from '../../protocol/federation.js';
import type { TrainableSpec } from '../../protocol/manifest.js';
import type { DeviceProfileReport } from '../../protocol/profile.js';
import type { SecAggState } from '../../protocol/secagg/server.js';
import type { AggregationSummary } from '../../strategy/index.js';
import type { CutSpec, DeviceAssignment, RoundPlan } from '../../strategy/plan/configure.js';
import { fromChunks, toChunks } from './chunks.js';

/** `created`: exists but not started (reported as `running` with no round). */
export type FederationStatus = 'created' | 'running' | 'finished' | 'closed';

export interface FederationRow {
  id: string;
  config: FederationConfig;
  trainables: TrainableSpec[];
  cut: string;
  status: FederationStatus;
  currentRound: number | null;
  /** The newest version any round published. */
  latestVersion: number;
  /** The version rounds start from and `@latest` serves: the newest unless pinned, rolled back or held. */
  currentVersion: number;
  /** A pinned federation's rounds still publish versions, but the current one stays where it was pinned. */
  pinned: boolean;
  /** The operator's held-out set (R2, evaluationSetKey), if given. */
  evaluationSet: EvaluationSetRef | null;
  /**
   * The builds of the model the federation trains at, its own cut first
   * (config.cuts): what the planner chooses among and which trainables each
   * leaves on the device. Empty for federations made before they were kept.
   */
  cuts: CutSpec[];
  createdAt: number;
}

export interface EvaluationSetRef {
  digest: string;
  samples: number;
}

export interface RoundRow {
  round: number;
  status: RoundStatus;
  /** The published version this round trains from. */
  baseVersion: number;
  openedAt: number;
  deadline: number;
  closedAt: number | null;
  publishedVersion: number | null;
  /** What the strategy did with the round's updates (strategy/aggregate.ts AggregationSummary), once closed. */
  aggregation: AggregationSummary | null;
  /** What the planner chose for the round as a whole, when the federation plans. */
  plan: RoundPlan['summary'] | null;
  /** Per-device tails (v1) or one shared tail (v2). */
  splitfed: SplitFedMode;
  /** A shared tail's round: the steps of the reading kept for publishing (the most yet submitted). */
  sharedTailSteps: number | null;
}

export interface VersionRow {
  version: number;
  /** The round that made it; null for version 0 (the model's initial trainables). */
  round: number | null;
  status: 'evaluating' | 'published' | 'held';
  createdAt: number;
  evaluation: EvaluationRecord | null;
  /** Failed attempts to evaluate it (a round's candidate), so a broken set or model cannot stall the federation. */
  attempts: number;
}

export interface SubmissionRow {
  round: number;
  deviceId: string;
  idempotencyKey: string;
  sampleCount: number;
  meanLoss: number;
  accuracy: number;
  steps: number;
  uplinkBytes: number;
  downlinkBytes: number;
  submittedAt: number;
  /** L2 norm of the update's delta from the round's starting version. */
  norm: number | null;
}

export interface DeviceRow {
  deviceId: string;
  enrolledAt: number;
  /** Moves on at every enrolment; only tokens of the current generation are honoured. */
  generation: number;
  revokedAt: number | null;
  /** When the device last joined or submitted (Unix ms). */
  lastSeenAt: number | null;
  /** Its last reported profile, validated when it arrived. */
  profile: DeviceProfileReport | null;
}

/** Sums over a round's accepted submissions; loss and accuracy are weighted by sample count. */
export interface RoundTotals {
  participants: number;
  samples: number;
  weightedLoss: number;
  weightedAccuracy: number;
  uplinkBytes: number;
  downlinkBytes: number;
}

// Accumulators exist only for the round in progress; adapters keep every
// published version so any ticket's version stays downloadable.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS federation (
  id TEXT PRIMARY KEY,
  config TEXT NOT NULL,
  trainables TEXT NOT NULL,
  cut TEXT NOT NULL,
  status TEXT NOT NULL,
  current_round INTEGER,
  latest_version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  current_version INTEGER,
  pinned INTEGER NOT NULL DEFAULT 0,
  evaluation_set TEXT,
  cuts TEXT
);
CREATE TABLE IF NOT EXISTS tail_timing (
  model_id TEXT PRIMARY KEY,
  ms REAL NOT NULL,
  samples INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY,
  enrolled_at INTEGER NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER,
  last_seen_at INTEGER,
  profile TEXT
);
CREATE TABLE IF NOT EXISTS rounds (
  round INTEGER PRIMARY KEY,
  status TEXT NOT NULL,
  base_version INTEGER NOT NULL,
  opened_at INTEGER NOT NULL,
  deadline INTEGER NOT NULL,
  closed_at INTEGER,
  published_version INTEGER,
  aggregation TEXT,
  plan TEXT,
  splitfed TEXT,
  shared_tail_steps INTEGER
);
CREATE TABLE IF NOT EXISTS selections (
  round INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  joined_at INTEGER,
  plan TEXT,
  PRIMARY KEY (round, device_id)
);
CREATE TABLE IF NOT EXISTS submissions (
  round INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  sample_count INTEGER NOT NULL,
  mean_loss REAL NOT NULL,
  accuracy REAL NOT NULL,
  steps INTEGER NOT NULL,
  uplink_bytes INTEGER NOT NULL,
  downlink_bytes INTEGER NOT NULL,
  submitted_at INTEGER NOT NULL,
  norm REAL,
  PRIMARY KEY (round, device_id)
);
CREATE TABLE IF NOT EXISTS versions (
  version INTEGER PRIMARY KEY,
  round INTEGER,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  evaluation TEXT,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS accumulators (
  round INTEGER NOT NULL,
  name TEXT NOT NULL,
  chunk INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (round, name, chunk)
);
CREATE TABLE IF NOT EXISTS secagg (
  round INTEGER PRIMARY KEY,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS adapters (
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  chunk INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (version, name, chunk)
);
`;

type Row = Record<string, SqlStorageValue>;

export class CoordinatorStore {
  /** Once the schema exists it never goes away, so a positive answer can be remembered. */
  private known = false;

  constructor(private readonly sql: SqlStorage) {}

  /** Whether create() ever ran; checked without creating tables, so probing an unknown id stores nothing. */
  exists(): boolean {
    this.known ||=
      this.sql
        .exec(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'federation'`)
        .toArray().length > 0;
    return this.known;
  }

  migrate(): void {
    this.sql.exec(SCHEMA);
    this.known = true;
  }

  /**
   * Brings a federation stored by an older version up to this schema. Devices
   * enrolled before generations existed get generation 0, which no token
   * carries: they must be enrolled again.
   */
  upgrade(): void {
    const columns = new Set(
      this.sql
        .exec<{ name: string }>(`SELECT name FROM pragma_table_info('devices')`)
        .toArray()
        .map((c) => c.name),
    );
    if (!columns.has('generation')) {
      this.sql.exec('ALTER TABLE devices ADD COLUMN generation INTEGER NOT NULL DEFAULT 0');
    }
    if (!columns.has('revoked_at')) this.sql.exec('ALTER TABLE devices ADD COLUMN revoked_at INTEGER');
    const add = (table: string, column: string, type: string) => {
      const has = this.sql
        .exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
        .toArray()
        .some((c) => c.name === column);
      if (!has) this.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    };
    add('federation', 'current_version', 'INTEGER');
    add('federation', 'pinned', 'INTEGER NOT NULL DEFAULT 0');
    add('federation', 'evaluation_set', 'TEXT');
    add('rounds', 'aggregation', 'TEXT');
    add('rounds', 'splitfed', 'TEXT');
    add('rounds', 'shared_tail_steps', 'INTEGER');
    add('submissions', 'norm', 'REAL');
    add('devices', 'last_seen_at', 'INTEGER');
    add('devices', 'profile', 'TEXT');
    add('federation', 'cuts', 'TEXT');
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS tail_timing (model_id TEXT PRIMARY KEY, ms REAL NOT NULL, samples INTEGER NOT NULL)',
    );
    add('rounds', 'plan', 'TEXT');
    add('selections', 'plan', 'TEXT');
    this.sql.exec('CREATE TABLE IF NOT EXISTS secagg (round INTEGER PRIMARY KEY, state TEXT NOT NULL)');
    this.sql.exec(`CREATE TABLE IF NOT EXISTS versions (version INTEGER PRIMARY KEY, round INTEGER,
      status TEXT NOT NULL, created_at INTEGER NOT NULL, evaluation TEXT, attempts INTEGER NOT NULL DEFAULT 0)`);
  }

  // ---- federation ---------------------------------------------------------

  federation(): FederationRow | null {
    if (!this.exists()) return null;
    const row = this.first<{
      id: string;
      config: string;
      trainables: string;
      cut: string;
      status: string;
      current_round: number | null;
      latest_version: number;
      current_version: number | null;
      pinned: number | null;
      evaluation_set: string | null;
      cuts: string | null;
      created_at: number;
    }>('SELECT * FROM federation LIMIT 1');
    if (!row) return null;
    return {
      id: row.id,
      // Parsed, not cast: a federation stored before a config field existed gets its default.
      config: FederationConfig.parse(JSON.parse(row.config)),
      trainables: JSON.parse(row.trainables) as TrainableSpec[],
      cut: row.cut,
      status: row.status as FederationStatus,
      currentRound: row.current_round,
      latestVersion: row.latest_version,
      currentVersion: row.current_version ?? row.latest_version,
      pinned: row.pinned === 1,
      evaluationSet: row.evaluation_set ? (JSON.parse(row.evaluation_set) as EvaluationSetRef) : null,
      cuts: row.cuts ? (JSON.parse(row.cuts) as CutSpec[]) : [],
      createdAt: row.created_at,
    };
  }

  insertFederation(f: FederationRow): void {
    this.sql.exec(
      `INSERT INTO federation (id, config, trainables, cut, status, current_round, latest_version, created_at,
         current_version, pinned, cuts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      f.id,
      JSON.stringify(f.config),
      JSON.stringify(f.trainables),
      f.cut,
      f.status,
      f.currentRound,
      f.latestVersion,
      f.createdAt,
      f.currentVersion,
      f.pinned ? 1 : 0,
      f.cuts.length === 0 ? null : JSON.stringify(f.cuts),
    );
  }

  /** Adds what a session of `modelId` measured of its tail: milliseconds over samples. */
  addTailTiming(modelId: string, ms: number, samples: number): void {
    this.sql.exec(
      `INSERT INTO tail_timing (model_id, ms, samples) VALUES (?, ?, ?)
       ON CONFLICT (model_id) DO UPDATE SET ms = ms + excluded.ms, samples = samples + excluded.samples`,
      modelId,
      ms,
      samples,
    );
  }

  /** Each model's tail, mean milliseconds per sample, as sessions measured it. */
  tailMsPerSample(): Map<string, number> {
    return new Map(
      this.sql
        .exec<{ model_id: string; ms: number; samples: number }>(
          'SELECT * FROM tail_timing WHERE samples > 0',
        )
        .toArray()
        .map((r) => [r.model_id, r.ms / r.samples]),
    );
  }

  setRoundPlan(round: number, plan: RoundPlan): void {
    this.sql.exec('UPDATE rounds SET plan = ? WHERE round = ?', JSON.stringify(plan.summary), round);
    for (const [deviceId, a] of plan.assignments) {
      this.sql.exec(
        'UPDATE selections SET plan = ? WHERE round = ? AND device_id = ?',
        JSON.stringify(a),
        round,
        deviceId,
      );
    }
  }

  /** A selected device's planned encodings and share, when the round was planned. */
  assignment(round: number, deviceId: string): DeviceAssignment | null {
    const r = this.first<{ plan: string | null }>(
      'SELECT plan FROM selections WHERE round = ? AND device_id = ?',
      round,
      deviceId,
    );
    return r?.plan ? (JSON.parse(r.plan) as DeviceAssignment) : null;
  }

  setStatus(status: FederationStatus): void {
    this.sql.exec('UPDATE federation SET status = ?', status);
  }

  setCurrentRound(round: number): void {
    this.sql.exec('UPDATE federation SET current_round = ?', round);
  }

  setEvaluationSet(ref: EvaluationSetRef): void {
    this.sql.exec('UPDATE federation SET evaluation_set = ?', JSON.stringify(ref));
  }

  setLatestVersion(version: number): void {
    this.sql.exec('UPDATE federation SET latest_version = ?', version);
  }

  setCurrentVersion(version: number, pinned?: boolean): void {
    if (pinned === undefined) this.sql.exec('UPDATE federation SET current_version = ?', version);
    else this.sql.exec('UPDATE federation SET current_version = ?, pinned = ?', version, pinned ? 1 : 0);
  }

  // ---- versions -----------------------------------------------------------

  /** Records a version: what round made it, whether it was published or held back. */
  insertVersion(v: Omit<VersionRow, 'attempts'>): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO versions (version, round, status, created_at, evaluation) VALUES (?, ?, ?, ?, ?)',
      v.version,
      v.round,
      v.status,
      v.createdAt,
      v.evaluation === null ? null : JSON.stringify(v.evaluation),
    );
  }

  versionRow(version: number): VersionRow | null {
    const r = this.first<RawVersion>('SELECT * FROM versions WHERE version = ?', version);
    return r ? toVersion(r) : null;
  }

  versionRows(): VersionRow[] {
    return this.sql.exec<RawVersion>('SELECT * FROM versions ORDER BY version').toArray().map(toVersion);
  }

  setVersionStatus(version: number, status: VersionRow['status']): void {
    this.sql.exec('UPDATE versions SET status = ? WHERE version = ?', status, version);
  }

  setEvaluation(version: number, evaluation: EvaluationRecord): void {
    this.sql.exec(
      'UPDATE versions SET evaluation = ? WHERE version = ?',
      JSON.stringify(evaluation),
      version,
    );
  }

  /** Counts a failed evaluation of a candidate; answers the attempts so far. */
  failedEvaluation(version: number): number {
    this.sql.exec('UPDATE versions SET attempts = attempts + 1 WHERE version = ?', version);
    return this.versionRow(version)?.attempts ?? 0;
  }

  // ---- devices ------------------------------------------------------------

  enrolledAt(deviceId: string): number | null {
    return (
      this.first<{ enrolled_at: number }>('SELECT enrolled_at FROM devices WHERE device_id = ?', deviceId)
        ?.enrolled_at ?? null
    );
  }

  device(deviceId: string): DeviceRow | null {
    const row = this.first<RawDevice>('SELECT * FROM devices WHERE device_id = ?', deviceId);
    return row ? toDevice(row) : null;
  }

  devices(): DeviceRow[] {
    return this.sql.exec<RawDevice>('SELECT * FROM devices ORDER BY device_id').toArray().map(toDevice);
  }

  /** Enrols a new device at generation 1, or moves an enrolled one to its next generation and lifts a revocation. */
  enroll(deviceId: string, at: number): DeviceRow {
    this.sql.exec(
      `INSERT INTO devices (device_id, enrolled_at, generation, revoked_at) VALUES (?, ?, 1, NULL)
       ON CONFLICT (device_id) DO UPDATE SET generation = generation + 1, revoked_at = NULL`,
      deviceId,
      at,
    );
    return this.device(deviceId)!;
  }

  /** The device reached the coordinator (join, submit): what an operator sees as its last contact. */
  touch(deviceId: string, at: number): void {
    this.sql.exec('UPDATE devices SET last_seen_at = ? WHERE device_id = ?', at, deviceId);
  }

  setProfile(deviceId: string, profile: DeviceProfileReport): void {
    this.sql.exec('UPDATE devices SET profile = ? WHERE device_id = ?', JSON.stringify(profile), deviceId);
  }

  revoke(deviceId: string, at: number): void {
    this.sql.exec(
      'UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL',
      at,
      deviceId,
    );
  }

  /** Devices that may be selected: enrolled and not revoked. */
  deviceCount(): number {
    return this.first<{ n: number }>('SELECT COUNT(*) AS n FROM devices WHERE revoked_at IS NULL')?.n ?? 0;
  }

  deviceIds(): string[] {
    return this.sql
      .exec<{ device_id: string }>(
        'SELECT device_id FROM devices WHERE revoked_at IS NULL ORDER BY device_id',
      )
      .toArray()
      .map((r) => r.device_id);
  }

  // ---- rounds and selections ----------------------------------------------

  insertRound(
    r: Pick<RoundRow, 'round' | 'baseVersion' | 'openedAt' | 'deadline'>,
    selected: string[],
  ): void {
    this.sql.exec(
      `INSERT INTO rounds (round, status, base_version, opened_at, deadline) VALUES (?, 'open', ?, ?, ?)`,
      r.round,
      r.baseVersion,
      r.openedAt,
      r.deadline,
    );
    selected.forEach((deviceId, position) => {
      this.sql.exec(
        'INSERT INTO selections (round, device_id, position) VALUES (?, ?, ?)',
        r.round,
        deviceId,
        position,
      );
    });
  }

  round(round: number): RoundRow | null {
    const row = this.first<RawRound>('SELECT * FROM rounds WHERE round = ?', round);
    return row ? toRound(row) : null;
  }

  rounds(): RoundRow[] {
    return this.sql.exec<RawRound>('SELECT * FROM rounds ORDER BY round').toArray().map(toRound);
  }

  setRoundMode(round: number, mode: SplitFedMode): void {
    this.sql.exec('UPDATE rounds SET splitfed = ? WHERE round = ?', mode, round);
  }

  setSharedTailSteps(round: number, steps: number): void {
    this.sql.exec('UPDATE rounds SET shared_tail_steps = ? WHERE round = ?', steps, round);
  }

  setRoundStatus(round: number, status: RoundStatus): void {
    this.sql.exec('UPDATE rounds SET status = ? WHERE round = ?', status, round);
  }

  closeRound(
    round: number,
    status: 'evaluating' | 'published' | 'failed',
    closedAt: number,
    publishedVersion: number | null,
    aggregation: AggregationSummary | null = null,
  ): void {
    this.sql.exec(
      'UPDATE rounds SET status = ?, closed_at = ?, published_version = ?, aggregation = ? WHERE round = ?',
      status,
      closedAt,
      publishedVersion,
      aggregation === null ? null : JSON.stringify(aggregation),
      round,
    );
  }

  /** How many of a round's selected devices are still in good standing (not revoked): those it waits for. */
  selectedStanding(round: number): number {
    return (
      this.first<{ n: number }>(
        `SELECT COUNT(*) AS n FROM selections s JOIN devices d ON d.device_id = s.device_id
         WHERE s.round = ? AND d.revoked_at IS NULL`,
        round,
      )?.n ?? 0
    );
  }

  selected(round: number): string[] {
    return this.sql
      .exec<{ device_id: string }>(
        'SELECT device_id FROM selections WHERE round = ? ORDER BY position',
        round,
      )
      .toArray()
      .map((r) => r.device_id);
  }

  joined(round: number): string[] {
    return this.sql
      .exec<{ device_id: string }>(
        'SELECT device_id FROM selections WHERE round = ? AND joined_at IS NOT NULL ORDER BY position',
        round,
      )
      .toArray()
      .map((r) => r.device_id);
  }

  selection(round: number, deviceId: string): { joinedAt: number | null } | null {
    const row = this.first<{ joined_at: number | null }>(
      'SELECT joined_at FROM selections WHERE round = ? AND device_id = ?',
      round,
      deviceId,
    );
    return row ? { joinedAt: row.joined_at } : null;
  }

  markJoined(round: number, deviceId: string, at: number): void {
    this.sql.exec(
      'UPDATE selections SET joined_at = ? WHERE round = ? AND device_id = ? AND joined_at IS NULL',
      at,
      round,
      deviceId,
    );
  }

  // ---- submissions --------------------------------------------------------

  submission(round: number, deviceId: string): SubmissionRow | null {
    const row = this.first<RawSubmission>(
      'SELECT * FROM submissions WHERE round = ? AND device_id = ?',
      round,
      deviceId,
    );
    return row ? toSubmission(row) : null;
  }

  insertSubmission(s: SubmissionRow): void {
    this.sql.exec(
      `INSERT INTO submissions (round, device_id, idempotency_key, sample_count, mean_loss, accuracy, steps,
         uplink_bytes, downlink_bytes, submitted_at, norm)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      s.round,
      s.deviceId,
      s.idempotencyKey,
      s.sampleCount,
      s.meanLoss,
      s.accuracy,
      s.steps,
      s.uplinkBytes,
      s.downlinkBytes,
      s.submittedAt,
      s.norm,
    );
  }

  /** A round's accepted submissions, in device order. */
  submissions(round: number): SubmissionRow[] {
    return this.sql
      .exec<RawSubmission>('SELECT * FROM submissions WHERE round = ? ORDER BY device_id', round)
      .toArray()
      .map(toSubmission);
  }

  /** Totals of every round that has submissions, keyed by round. */
  totals(round?: number): Map<number, RoundTotals> {
    const rows = this.sql
      .exec<{
        round: number;
        participants: number;
        samples: number;
        weighted_loss: number;
        weighted_accuracy: number;
        uplink_bytes: number;
        downlink_bytes: number;
      }>(
        `SELECT round, COUNT(*) AS participants, SUM(sample_count) AS samples,
           SUM(sample_count * mean_loss) AS weighted_loss, SUM(sample_count * accuracy) AS weighted_accuracy,
           SUM(uplink_bytes) AS uplink_bytes, SUM(downlink_bytes) AS downlink_bytes
         FROM submissions ${round === undefined ? '' : 'WHERE round = ?'}
         GROUP BY round`,
        ...(round === undefined ? [] : [round]),
      )
      .toArray();
    return new Map(
      rows.map((r) => [
        r.round,
        {
          participants: r.participants,
          samples: r.samples,
          weightedLoss: r.weighted_loss,
          weightedAccuracy: r.weighted_accuracy,
          uplinkBytes: r.uplink_bytes,
          downlinkBytes: r.downlink_bytes,
        },
      ]),
    );
  }

  roundTotals(round: number): RoundTotals {
    return this.totals(round).get(round) ?? EMPTY_TOTALS;
  }

  // ---- tensors ------------------------------------------------------------

  /** The round's float64 sum for one trainable; zeros before the first accepted update. */
  /** The round's secure-aggregation state (protocol/secagg/server.ts), when it has one. */
  secAgg(round: number): SecAggState | null {
    const row = this.first<{ state: string }>('SELECT state FROM secagg WHERE round = ?', round);
    return row ? (JSON.parse(row.state) as SecAggState) : null;
  }

  writeSecAgg(round: number, state: SecAggState): void {
    this.sql.exec(
      'INSERT INTO secagg (round, state) VALUES (?, ?) ON CONFLICT (round) DO UPDATE SET state = excluded.state',
      round,
      JSON.stringify(state),
    );
  }

  readAccumulator(round: number, name: string, length: number): Float64Array {
    const parts = this.blobs(
      'SELECT data FROM accumulators WHERE round = ? AND name = ? ORDER BY chunk',
      round,
      name,
    );
    if (parts.length === 0) return new Float64Array(length);
    return new Float64Array(fromChunks(parts, length * 8, `accumulator ${name}`).buffer);
  }

  writeAccumulator(round: number, name: string, acc: Float64Array): void {
    toChunks(acc).forEach((data, chunk) => {
      this.sql.exec(
        'INSERT OR REPLACE INTO accumulators (round, name, chunk, data) VALUES (?, ?, ?, ?)',
        round,
        name,
        chunk,
        data,
      );
    });
  }

  clearAccumulators(round: number): void {
    this.sql.exec('DELETE FROM accumulators WHERE round = ?', round);
  }

  /** One trainable's float32 values at a published version, or null if the version does not hold it. */
  readAdapter(version: number, name: string, length: number): Float32Array | null {
    const parts = this.blobs(
      'SELECT data FROM adapters WHERE version = ? AND name = ? ORDER BY chunk',
      version,
      name,
    );
    if (parts.length === 0) return null;
    return new Float32Array(fromChunks(parts, length * 4, `adapter ${name}@${version}`).buffer);
  }

  writeAdapter(version: number, name: string, values: Float32Array): void {
    toChunks(values).forEach((data, chunk) => {
      this.sql.exec(
        'INSERT INTO adapters (version, name, chunk, data) VALUES (?, ?, ?, ?)',
        version,
        name,
        chunk,
        data,
      );
    });
  }

  // ---- helpers ------------------------------------------------------------

  private first<T extends Row>(query: string, ...bindings: SqlStorageValue[]): T | undefined {
    return this.sql.exec<T>(query, ...bindings).toArray()[0];
  }

  private blobs(query: string, ...bindings: SqlStorageValue[]): ArrayBuffer[] {
    return this.sql
      .exec<{ data: ArrayBuffer }>(query, ...bindings)
      .toArray()
      .map((r) => r.data);
  }
}

export const EMPTY_TOTALS: RoundTotals = {
  participants: 0,
  samples: 0,
  weightedLoss: 0,
  weightedAccuracy: 0,
  uplinkBytes: 0,
  downlinkBytes: 0,
};

type RawRound = {
  round: number;
  status: string;
  base_version: number;
  opened_at: number;
  deadline: number;
  closed_at: number | null;
  published_version: number | null;
  aggregation: string | null;
  plan: string | null;
  splitfed?: string | null;
  shared_tail_steps?: number | null;
};

function toRound(r: RawRound): RoundRow {
  return {
    round: r.round,
    status: r.status as RoundStatus,
    baseVersion: r.base_version,
    openedAt: r.opened_at,
    deadline: r.deadline,
    closedAt: r.closed_at,
    publishedVersion: r.published_version,
    aggregation: r.aggregation ? (JSON.parse(r.aggregation) as AggregationSummary) : null,
    plan: r.plan ? (JSON.parse(r.plan) as RoundPlan['summary']) : null,
    splitfed: r.splitfed === 'v2' ? 'v2' : 'v1',
    sharedTailSteps: r.shared_tail_steps ?? null,
  };
}

type RawDevice = {
  device_id: string;
  enrolled_at: number;
  generation: number;
  revoked_at: number | null;
  last_seen_at?: number | null;
  profile?: string | null;
};

function toDevice(r: RawDevice): DeviceRow {
  return {
    deviceId: r.device_id,
    enrolledAt: r.enrolled_at,
    generation: r.generation,
    revokedAt: r.revoked_at,
    lastSeenAt: r.last_seen_at ?? null,
    profile: r.profile ? (JSON.parse(r.profile) as DeviceProfileReport) : null,
  };
}

type RawSubmission = {
  round: number;
  device_id: string;
  idempotency_key: string;
  sample_count: number;
  mean_loss: number;
  accuracy: number;
  steps: number;
  uplink_bytes: number;
  downlink_bytes: number;
  submitted_at: number;
  norm: number | null;
};

function toSubmission(r: RawSubmission): SubmissionRow {
  return {
    round: r.round,
    deviceId: r.device_id,
    idempotencyKey: r.idempotency_key,
    sampleCount: r.sample_count,
    meanLoss: r.mean_loss,
    accuracy: r.accuracy,
    steps: r.steps,
    uplinkBytes: r.uplink_bytes,
    downlinkBytes: r.downlink_bytes,
    submittedAt: r.submitted_at,
    norm: r.norm ?? null,
  };
}

type RawVersion = {
  version: number;
  round: number | null;
  status: string;
  created_at: number;
  evaluation: string | null;
  attempts: number;
};

function toVersion(r: RawVersion): VersionRow {
  return {
    version: r.version,
    round: r.round,
    status: r.status as VersionRow['status'],
    createdAt: r.created_at,
    evaluation: r.evaluation === null ? null : EvaluationRecord.parse(JSON.parse(r.evaluation)),
    attempts: r.attempts,
  };
}
