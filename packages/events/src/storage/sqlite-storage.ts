// The durable storage: one SQLite table in WAL mode, written in one transaction per batch,
// with indexes for the queries an event store makes. Event data is stored as CBOR and decoded
// through the same hostile-input guard as the wire; a row that does not decode is reported as
// data corruption, never returned half-read.
//
// Durability. In WAL mode a commit appends to the write-ahead log; `synchronous` decides when
// that reaches the disk:
//   FULL (the default here): the WAL is fsynced at every commit. A batch `append` returned for
//     is on disk: it survives the process being killed and the machine losing power.
//   NORMAL: the WAL is fsynced only at checkpoints. A committed batch survives the process being
//     killed (it is in the OS page cache), but the last commits before a power loss or OS crash
//     may be rolled back (never half-applied: SQLite's atomicity holds either way).
// FULL costs one fsync per batch, which batching amortises; NORMAL is the choice for events
// that may be lost in a power cut.
import type { FoundationEvent } from '../event';
import { EventDataCorruptionError } from '../errors/event-data-corruption-error';
import type { EventPlaceColumn } from '../errors/event-data-corruption-error';
import { EventDuplicateError } from '../errors/event-duplicate-error';
import { EventStorageError } from '../errors/event-storage-error';
import { EventStoreClosedError } from '../errors/event-store-closed-error';
import { EventValidationError } from '../errors/event-validation-error';
import { checkCorrelationId, checkId, checkNode, checkParentId, checkType } from '../internal/check-event';
import type { NormalizedEventQuery } from '../query';
import type { QueryPosition } from '../query-cursor';
import { encodeValue } from '../serialization/cbor-codec';
import { decodeData } from '../serialization/event-codec';
import type { EventStorage, SkippingAnswer, StoredEvent } from './event-storage';
import { checkReserveCount } from './event-storage';
import { loadBetterSqlite3 } from './sqlite-driver';
import type { SqliteDatabase, SqliteDatabaseConstructor, SqliteStatement, SqliteTransaction } from './sqlite-driver';

export interface SqliteStorageOptions {
  /** The database file; created if missing. `:memory:` works for tests (without durability). */
  readonly path: string;
  /** See the durability note: `full` (default) survives power loss, `normal` survives process crashes. */
  readonly synchronous?: 'full' | 'normal' | undefined;
  /** How long to wait for another connection's lock, in ms: an integer from 0 to 2^31 - 1. Default 5,000. */
  readonly busyTimeoutMs?: number | undefined;
  /** Stored data larger than this is reported as corrupt instead of decoded. Default 64 MiB. */
  readonly maxRowDataBytes?: number | undefined;
  /** better-sqlite3's Database class; `openSqliteStorage` imports it for you. */
  readonly driver?: SqliteDatabaseConstructor | undefined;
}

export interface SqliteEventStorage extends EventStorage {
  readonly path: string;
  /** The `synchronous` setting in force. */
  readonly synchronous: 'full' | 'normal';
  /** SQLite's own check of the file (`PRAGMA integrity_check`): `['ok']` when sound. */
  integrityCheck(): string[];
  /** Always present here: the reservation is one write transaction on the file. */
  reserveIds(count: number): number;
  /** Always present here: the sequence number is a column, given in the transaction that stores the row. */
  queryStored(query: NormalizedEventQuery): StoredEvent[];
  /** Always present here: a file's row may stop decoding (another program, a damaged disk). */
  querySkippingCorrupt(query: NormalizedEventQuery): SkippingAnswer;
}

const SCHEMA_VERSION = 1;
const DEFAULT_MAX_ROW_DATA_BYTES = 64 * 1024 * 1024;
const COLUMNS = 'id, type, correlation_id, parent_id, timestamp, wall_time, node, data';

// Made if missing at every open, in its write transaction, so a file from before an index gains
// it then. (type, timestamp), with the id SQLite appends to every index, is one type in timestamp
// order: a page of a type read from its cursor, where the type's other indexes left every page
// reading and sorting every row of the type.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS foundation_events (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  parent_id INTEGER,
  timestamp INTEGER NOT NULL,
  wall_time INTEGER NOT NULL,
  node TEXT NOT NULL,
  data BLOB NOT NULL,
  sequence INTEGER
);
CREATE INDEX IF NOT EXISTS foundation_events_by_type ON foundation_events (type, id);
CREATE INDEX IF NOT EXISTS foundation_events_by_correlation ON foundation_events (correlation_id, timestamp);
CREATE INDEX IF NOT EXISTS foundation_events_by_wall_time ON foundation_events (wall_time);
CREATE INDEX IF NOT EXISTS foundation_events_by_timestamp ON foundation_events (timestamp, id);
CREATE INDEX IF NOT EXISTS foundation_events_by_type_timestamp ON foundation_events (type, timestamp);
`;
// The order of storage. Its own statement, after the column is made: a file from before the
// column gains it (ALTER TABLE) first. Unique, so no two rows ever share a number; rows an older
// version of this package stores have none (NULL, which a unique index allows more than once)
// until this version numbers them.
//
// And by type in that order: a reader of one type (a projection) starts at its cursor among
// that type's rows, where the (type, id) index made each page read and sort every row of the type.
const SEQUENCE_INDEX = `
CREATE UNIQUE INDEX IF NOT EXISTS foundation_events_by_sequence ON foundation_events (sequence);
CREATE INDEX IF NOT EXISTS foundation_events_by_type_sequence ON foundation_events (type, sequence);
`;
const META_SCHEMA = 'CREATE TABLE IF NOT EXISTS foundation_events_meta (key TEXT PRIMARY KEY, value NOT NULL)';

/**
 * A number the file keeps (a meta row, the highest id or sequence number of the rows), checked
 * as it is read: a non-negative safe integer, or for `max_timestamp` a non-negative finite
 * number; absent (no row, an empty table) is 0. The file is outside this process: another
 * program, an older version or a damaged disk may have written anything there, and SQLite's
 * max() ranks text above every number, so a max_id of 'abc' became NaN, the store then reserved
 * no ids (NaN compares false) and `emit` returned an event with id NaN whose row was stored under
 * the next rowid. Thrown as a plain Error: the caller's guard reports it as event_storage_failed.
 */
/*
 * ROW_RANGE. The highest id, sequence number and timestamp of the rows are read among the values
 * an event can have there (a range on the column's index: one seek, as max() alone is): a row
 * holding another (text, which max() ranks above every number, or a number above 2^53, or an
 * infinite one) is damaged, and is reported as data_corruption (3301) by the reads that meet it
 * (toEvent). Taken as the file's highest, it made the whole file refused at open, or every
 * append refused, over one row. Ids, numbers and timestamps given later are above the highest
 * good one, so none is a damaged row's either. The meta rows, one per file, are checked as they
 * are: a damaged one is a damaged file.
 */
function fileNumber(what: string, value: unknown, integer = true): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && value >= 0 && (integer ? Number.isSafeInteger(value) : Number.isFinite(value))) return value;
  const shown = typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value === 'number' ? String(value) : `a ${typeof value === 'object' ? 'blob' : typeof value}`;
  throw new Error(`the file is damaged: ${what} holds ${shown}, not a non-negative ${integer ? 'safe integer' : 'finite number'}`);
}

function isConstraintError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
}

/** Opens (creating if needed) a SQLite event storage, importing better-sqlite3 on first use. */
export async function openSqliteStorage(options: SqliteStorageOptions): Promise<SqliteEventStorage> {
  const driver = options.driver ?? (await loadBetterSqlite3());
  return createSqliteStorage({ ...options, driver });
}

/** The synchronous form of `openSqliteStorage`, for callers that pass better-sqlite3's class themselves. */
/**
 * Switches the connection to WAL, waiting up to `busyTimeoutMs` for the lock it needs. Switching
 * a new file needs an exclusive lock; when two connections (two processes opening the file at
 * once) both hold a shared one and ask for it, SQLite refuses one at once with SQLITE_BUSY rather
 * than call the busy handler (waiting could deadlock), so the connection's timeout never applied
 * and the open failed with "database is locked". The refused one retries after a few ms, by then
 * the other has switched the file, and the switch is a no-op.
 */
function walMode(db: SqliteDatabase, busyTimeoutMs: number): void {
  const deadline = performance.now() + busyTimeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw error;
      // A synchronous wait: the open is synchronous, as SQLite's own busy waits are.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(2 ** attempt, 50));
    }
  }
}

export function createSqliteStorage(options: SqliteStorageOptions & { readonly driver: SqliteDatabaseConstructor }): SqliteEventStorage {
  const { path, driver } = options;
  if (typeof path !== 'string' || path === '') throw new TypeError('the SQLite storage needs a file path');
  const synchronous = options.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') throw new RangeError("synchronous must be 'full' or 'normal'");
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  // SQLite's busy timeout is a C int of milliseconds. NaN would make walMode's deadline never
  // come, and better-sqlite3's own refusal would be reported as the medium failing (5503).
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 2 ** 31 - 1) {
    throw new RangeError('busyTimeoutMs must be an integer of milliseconds from 0 to 2^31 - 1');
  }
  const maxRowDataBytes = options.maxRowDataBytes ?? DEFAULT_MAX_ROW_DATA_BYTES;
  // NaN would compare false with every size, and store and decode rows of any size.
  if (!Number.isSafeInteger(maxRowDataBytes) || maxRowDataBytes < 1) throw new RangeError('maxRowDataBytes must be a positive integer');

  let db: SqliteDatabase;
  try {
    db = new driver(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new EventStorageError('open', error);
  }
  let insert: SqliteStatement;
  let selectById: SqliteStatement;
  let selectByCorrelation: SqliteStatement;
  let selectRecent: SqliteStatement;
  let selectPrunable: SqliteStatement;
  let deleteBefore: SqliteStatement;
  let selectExists: SqliteStatement;
  let selectCount: SqliteStatement;
  let adjustCount: SqliteStatement;
  let writeMeta: SqliteStatement;
  let fileHighestId: () => number;
  let selectRememberedTimestamp: SqliteStatement;
  let appendBatch: SqliteTransaction<[events: readonly FoundationEvent[], encoded: readonly Uint8Array[]], void>;
  let pruneRows: SqliteTransaction<[wallTime: number], void>;
  let reserveBlock: SqliteTransaction<[size: number], number>;
  // The highest sequence number ever given in the file; assigned by prepareSequencing.
  let highestSequence!: () => number;
  // Assigned by prepareSequencing, in the opening transaction, before anything calls it.
  let numberUnsequenced!: () => void;
  let pruned = 0;
  // What this connection last saw of the highest id. Other connections to the file (in this
  // process or another) store and reserve ids too: whatever must be above theirs reads the file.
  let highestId = 0;
  /** The `max_id` meta row as this connection last wrote or read it. */
  let rememberedId = 0;
  // What this connection last saw of the highest timestamp; maxTimestamp() reads the file's.
  let highestTimestamp = 0;
  // Statements of the order of storage, prepared inside the opening transaction (once the
  // column exists) because the file's rows are numbered there.
  const prepareSequencing = (): void => {
    // The highest sequence number ever given in the file: remembered in the meta table at
    // every append (so pruning the highest row does not free its number), and the highest row
    // (an index lookup) for rows numbered before the meta row existed.
    // Of the rows, among the numbers a sequence number can be (see ROW_RANGE).
    const selectSequences = db
      .prepare("SELECT (SELECT value FROM foundation_events_meta WHERE key = 'max_sequence'), (SELECT max(sequence) FROM foundation_events WHERE sequence BETWEEN 1 AND ?)")
      .raw();
    highestSequence = (): number => {
      const [remembered, highestRow] = selectSequences.get(Number.MAX_SAFE_INTEGER) as [unknown, unknown];
      // A damaged row's 2.5 counts as 2: the next number, 3, is no row's either.
      return Math.max(fileNumber('the meta row max_sequence', remembered), fileNumber('the highest sequence number of the rows', typeof highestRow === 'number' ? Math.floor(highestRow) : highestRow));
    };
    // One statement, whatever the number of rows: the numbers (by row_number in id order) are
    // worked out before any row changes, and no list of ids is held in memory.
    const numberRows = db.prepare(
      'UPDATE foundation_events SET sequence = numbered.position + ? FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM foundation_events WHERE sequence IS NULL) AS numbered WHERE foundation_events.id = numbered.id',
    );
    // NULLs come first in the sequence index: one lookup says whether any row lacks a number.
    const hasUnsequenced = db.prepare('SELECT 1 FROM foundation_events WHERE sequence IS NULL LIMIT 1').raw();
    const rememberSequence = db.prepare(
      "INSERT INTO foundation_events_meta (key, value) VALUES ('max_sequence', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    );
    // Rows without a sequence number: every row of a file from before the column, and rows an
    // older version of this package stored into the file since (it writes the columns it knows,
    // so the number is NULL). They are numbered in id order above every number given so far,
    // inside a write transaction that this version makes anyway (the open, an append), so each
    // gets one number, once, and a reader in the order of storage meets them after everything
    // it has read: late, but neither missed nor repeated. A query does not number them: it
    // would take the write lock to read, waiting behind every writer of the file (and failing
    // when one held it past busyTimeoutMs), where a read in WAL mode waits for nobody.
    numberUnsequenced = (): void => {
      if (hasUnsequenced.get() === undefined) return;
      const highest = highestSequence();
      const { changes } = numberRows.run(highest);
      rememberSequence.run(highest + changes);
    };
  };
  try {
    walMode(db, busyTimeoutMs);
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // The version is checked and the schema made in one write transaction, taken at its start
    // (IMMEDIATE): a second open of a new file waits (busyTimeoutMs) for the first to finish
    // instead of finding the tables made and the version not yet written, and a file of another
    // version is refused before anything in it is created, and left as it was.
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(META_SCHEMA);
      const version = db.prepare("SELECT value FROM foundation_events_meta WHERE key = 'schema_version'").raw().get() as [unknown] | undefined;
      if (version !== undefined && version[0] !== SCHEMA_VERSION) {
        throw new Error(`the file has event schema version ${String(version[0])}; this version reads ${SCHEMA_VERSION}`);
      }
      // The numbers remembered in the meta table, checked before anything is written: a file
      // they are damaged in is refused, left as it was.
      for (const [key, integer] of [['max_id', true], ['max_sequence', true], ['max_timestamp', false]] as const) {
        const row = db.prepare('SELECT value FROM foundation_events_meta WHERE key = ?').raw().get(key) as [unknown] | undefined;
        fileNumber(`the meta row ${key}`, row?.[0], integer);
      }
      db.exec(SCHEMA);
      // A file from before the order of storage gains its column here, in this write
      // transaction (so two processes opening it at once do not both add it, and a failure
      // leaves the file as it was); its rows are numbered below, in id order. The schema
      // version stays 1: older versions of this package still open the file (see numberUnsequenced).
      const columns = db.prepare('PRAGMA table_info(foundation_events)').all() as { name: string }[];
      if (!columns.some((column) => column.name === 'sequence')) db.exec('ALTER TABLE foundation_events ADD COLUMN sequence INTEGER');
      db.exec(SEQUENCE_INDEX);
      if (version === undefined) db.prepare("INSERT INTO foundation_events_meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
      // The number of rows is kept in the meta table, moved in the transaction of every append
      // and prune, so that count() reads the file's count (whichever connection or process
      // stored or pruned) with one row lookup rather than counting every row. It is counted
      // afresh here, inside the write lock, so that a file from before the row existed, or one
      // written by an older version of this package since (which moves no count), is right
      // again from this open on; it is written only when it differs.
      const [rows] = db.prepare('SELECT count(*) FROM foundation_events').raw().get() as [number];
      db.prepare(
        "INSERT INTO foundation_events_meta (key, value) VALUES ('event_count', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value",
      ).run(rows);
      prepareSequencing();
      numberUnsequenced();
      db.exec('COMMIT');
    } catch (error) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite already rolled back (it does on some errors); the first error is the one to report.
      }
      throw error;
    }
    insert = db.prepare(`INSERT INTO foundation_events (${COLUMNS}, sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    selectById = db.prepare(`SELECT ${COLUMNS} FROM foundation_events WHERE id = ?`).raw();
    selectByCorrelation = db.prepare(`SELECT ${COLUMNS} FROM foundation_events WHERE correlation_id = ? ORDER BY timestamp, id LIMIT ?`).raw();
    selectRecent = db.prepare(`SELECT ${COLUMNS} FROM foundation_events ORDER BY id DESC LIMIT ?`).raw();
    selectPrunable = db.prepare('SELECT count(*) FROM foundation_events WHERE wall_time < ?').raw();
    deleteBefore = db.prepare('DELETE FROM foundation_events WHERE wall_time < ?');
    selectExists = db.prepare('SELECT 1 FROM foundation_events WHERE id = ?').raw();
    selectCount = db.prepare("SELECT value FROM foundation_events_meta WHERE key = 'event_count'").raw();
    // Never below 0: rows an older version stored since the open (it keeps no count) are counted
    // at the next open, and pruned before it they took the count below 0, which count() refuses
    // as a damaged file. Until that open the count lacks them either way.
    adjustCount = db.prepare("UPDATE foundation_events_meta SET value = max(0, value + ?) WHERE key = 'event_count'");
    // Both values written here (max_id, max_timestamp) only ever go up. Another connection may
    // have raised one since this one last read it: the larger stays, so a connection that knew
    // less never lowers what another recorded (and reserved ids are never handed out again).
    writeMeta = db.prepare('INSERT INTO foundation_events_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)');
    // The highest id ever stored or reserved in the file, by any connection: the remembered
    // one, or the highest row (a primary key lookup) when rows above it were stored since.
    // Of the rows, among the ids an event can have (see ROW_RANGE).
    const selectHighestId = db.prepare("SELECT (SELECT value FROM foundation_events_meta WHERE key = 'max_id'), (SELECT max(id) FROM foundation_events WHERE id <= ?)").raw();
    fileHighestId = (): number => {
      const [remembered, highestRow] = selectHighestId.get(Number.MAX_SAFE_INTEGER) as [unknown, unknown];
      return Math.max(fileNumber('the meta row max_id', remembered), fileNumber('the highest id of the rows', highestRow));
    };
    // The highest id is max(id) while its row exists; pruning records it in the meta table before
    // deleting rows, and reserveIds records the ids a store hands out before it hands them out,
    // so ids are never handed out twice after pruning, a failed append or a crash, and reopening.
    const rememberedRow = db.prepare("SELECT value FROM foundation_events_meta WHERE key = 'max_id'").raw().get() as [unknown] | undefined;
    rememberedId = fileNumber('the meta row max_id', rememberedRow?.[0]);
    highestId = fileHighestId();
    // The highest timestamp is remembered in the meta table, so timestamps keep increasing after
    // pruning and reopening; max() covers files written before the key existed.
    selectRememberedTimestamp = db.prepare("SELECT value FROM foundation_events_meta WHERE key = 'max_timestamp'").raw();
    const remembered = selectRememberedTimestamp.get() as [unknown] | undefined;
    // Of the rows, among the timestamps an event can have (see ROW_RANGE).
    const scanned = db.prepare('SELECT max(timestamp) FROM foundation_events WHERE timestamp BETWEEN 0 AND ?').raw().get(Number.MAX_VALUE) as [unknown];
    highestTimestamp = Math.max(fileNumber('the meta row max_timestamp', remembered?.[0], false), fileNumber('the highest timestamp of the rows', scanned[0], false));
    // Run immediate (the write lock taken at BEGIN): the sequence numbers are read and given
    // inside it, so commits are numbered in the order they happen, whichever connection or
    // process makes them, and a reader's snapshot never lacks a number below one it holds.
    appendBatch = db.transaction((events: readonly FoundationEvent[], encoded: readonly Uint8Array[]) => {
      numberUnsequenced();
      let sequence = highestSequence();
      let batchHighest = highestTimestamp;
      for (let index = 0; index < events.length; index += 1) {
        const event = events[index]!;
        sequence += 1;
        insert.run(event.id, event.type, event.correlationId, event.parentId, event.timestamp, event.wallTime, event.node, encoded[index]!, sequence);
        if (event.timestamp > batchHighest) batchHighest = event.timestamp;
      }
      writeMeta.run('max_sequence', sequence);
      if (batchHighest > highestTimestamp) writeMeta.run('max_timestamp', batchHighest);
      adjustCount.run(events.length);
    });
    // Rows are deleted here only; the highest id is recorded, and the count lowered, in the same
    // transaction. (Recording the highest id here rather than at every append keeps it off the
    // append path, which writes only the count and the highest timestamp.)
    pruneRows = db.transaction((wallTime: number) => {
      // The highest row may be another connection's, above what this one has seen.
      highestId = Math.max(highestId, fileHighestId());
      if (highestId > rememberedId) writeMeta.run('max_id', highestId);
      pruned = deleteBefore.run(wallTime).changes;
      if (pruned > 0) adjustCount.run(-pruned);
    });
    // Reads the highest id and records the block above it in one write transaction, taken at
    // BEGIN (immediate): a second connection reserving at the same moment waits for this commit
    // (busyTimeoutMs), then reads this block's end and starts above it. Read outside the
    // transaction, or from this connection's memory, both would take the same block.
    reserveBlock = db.transaction((size: number): number => {
      const first = Math.max(highestId, fileHighestId()) + 1;
      if (first > Number.MAX_SAFE_INTEGER) return first;
      const through = Math.min(first + size - 1, Number.MAX_SAFE_INTEGER);
      writeMeta.run('max_id', through);
      return first;
    });
  } catch (error) {
    db.close();
    throw new EventStorageError('open', error);
  }
  let closed = false;

  const ensureOpen = (operation: string): void => {
    if (closed) throw new EventStoreClosedError(operation);
  };

  /** `sequence`: the row's number in the order of storage, when read in that order, for the error to name. */
  const toEvent = (row: unknown, sequence?: number): FoundationEvent => {
    const columns = row as unknown[];
    const id = columns[0];
    // An id above 2^53 comes back rounded (better-sqlite3 reads integers as doubles): not named.
    const identity = Number.isSafeInteger(id) ? (id as number) : undefined;
    const [, type, correlationId, parentId, timestamp, wallTime, node, data] = columns;
    if (
      typeof id !== 'number' ||
      typeof type !== 'string' ||
      typeof correlationId !== 'string' ||
      !(parentId === null || typeof parentId === 'number') ||
      typeof timestamp !== 'number' ||
      typeof wallTime !== 'number' ||
      typeof node !== 'string' ||
      !(data instanceof Uint8Array)
    ) {
      throw new EventDataCorruptionError(identity, 'a column has the wrong type', undefined, sequence);
    }
    // Values no event has (no store writes them; another program or a damaged disk may): handed
    // out, they failed later and elsewhere, as a cursor of id -5 that the next page refused as
    // the caller's mistake (3203), or an id above 2^53 read back as one no row has.
    try {
      checkId(id);
      checkParentId(parentId);
      checkType(type);
      checkCorrelationId(correlationId);
      checkNode(node);
    } catch (error) {
      throw new EventDataCorruptionError(identity, 'a column holds what no event has', error, sequence);
    }
    if (!Number.isFinite(timestamp) || timestamp < 0 || !Number.isFinite(wallTime)) {
      throw new EventDataCorruptionError(identity, 'its timestamp or wall time is not one an event has', undefined, sequence);
    }
    let decoded: unknown;
    try {
      decoded = decodeData(data, maxRowDataBytes);
    } catch (error) {
      throw new EventDataCorruptionError(identity, 'its data does not decode', error, sequence);
    }
    return Object.freeze({ id, type, data: decoded, correlationId, parentId, timestamp, wallTime, node });
  };

  const guarded = <Result>(operation: string, action: () => Result): Result => {
    ensureOpen(operation);
    try {
      return action();
    } catch (error) {
      if (error instanceof EventDataCorruptionError || error instanceof EventDuplicateError) throw error;
      throw new EventStorageError(operation, error);
    }
  };

  /**
   * The query's filters (types, correlation id, wall time range) as conditions and their
   * parameters. `rangesFirst`: the unary plus keeps SQLite from reading the correlation group or
   * the wall time range through their indexes, where the caller's ranges (see UNPLACED) are seeks.
   */
  const filterConditions = (query: NormalizedEventQuery, conditions: string[], parameters: unknown[], rangesFirst = false): void => {
    const plus = rangesFirst ? '+' : '';
    if (query.types !== undefined) {
      // With a correlation id too, the group (a request's few events) is read from its own
      // index: the unary plus keeps SQLite, which keeps no statistics here, from choosing a
      // type index that gives the order but reads every row of the type to find the group's.
      const column = query.correlationId === undefined ? 'type' : '+type';
      conditions.push(`${column} IN (${query.types.map(() => '?').join(', ')})`);
      parameters.push(...query.types);
    }
    if (query.correlationId !== undefined) {
      conditions.push(`${plus}correlation_id = ?`);
      parameters.push(query.correlationId);
    }
    if (query.from !== Number.NEGATIVE_INFINITY) {
      conditions.push(`${plus}wall_time >= ?`);
      parameters.push(query.from);
    }
    if (query.to !== Number.POSITIVE_INFINITY) {
      conditions.push(`${plus}wall_time <= ?`);
      parameters.push(query.to);
    }
  };

  // Prepared statements for query shapes, built on first use.
  const queryStatements = new Map<string, SqliteStatement>();
  const prepared = (source: string): SqliteStatement => {
    let statement = queryStatements.get(source);
    if (statement === undefined) {
      statement = db.prepare(source).raw();
      queryStatements.set(source, statement);
    }
    return statement;
  };
  /** `placedOnly`: only rows with a place in the query's order that a cursor can hold (see placeOf). */
  const queryStatement = (query: NormalizedEventQuery, placedOnly = false): { statement: SqliteStatement; parameters: unknown[] } => {
    const conditions: string[] = [];
    const parameters: unknown[] = [];
    if (placedOnly) {
      // Ranges on the columns the order reads, which the order's index serves: text sorts above
      // every number and a blob above text, so neither is within them, nor is infinity. The rows
      // outside them are looked for first (see UNPLACED).
      if (query.orderBy === 'stored') {
        conditions.push('sequence BETWEEN 1 AND ?');
        parameters.push(Number.MAX_SAFE_INTEGER);
      } else {
        conditions.push('id BETWEEN 1 AND ?');
        parameters.push(Number.MAX_SAFE_INTEGER);
        if (query.orderBy === 'timestamp') {
          conditions.push('timestamp BETWEEN 0 AND ?');
          parameters.push(Number.MAX_VALUE);
        }
      }
    }
    filterConditions(query, conditions, parameters);
    if (query.after !== undefined) {
      // The rows past the cursor's position in the query's order (a range on the primary key,
      // or on timestamp then id), so a page starts there whatever was appended or pruned since.
      // On timestamp it is a row value: SQLite searches an index on (timestamp, id) for it, and
      // the correlation index (correlation_id, timestamp, then the rowid) by range, where the
      // same condition spelt with OR left both to filter every row from the first.
      const comparison = query.order === 'asc' ? '>' : '<';
      if (query.orderBy === 'stored') {
        conditions.push(`sequence ${comparison} ?`);
        parameters.push(query.after.sequence ?? 0);
      } else if (query.orderBy === 'id') {
        conditions.push(`id ${comparison} ?`);
        parameters.push(query.after.id);
      } else {
        conditions.push(`(timestamp, id) ${comparison} (?, ?)`);
        parameters.push(query.after.timestamp, query.after.id);
      }
    }
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    let order = query.orderBy === 'id' ? `id ${direction}` : `timestamp ${direction}, id ${direction}`;
    let selected = COLUMNS;
    if (query.orderBy === 'stored') {
      // Rows not yet numbered (an older version stored them) wait for their number, which this
      // version's next append or open gives them.
      conditions.push('sequence IS NOT NULL');
      order = `sequence ${direction}`;
      selected = `${COLUMNS}, sequence`;
    }
    const source = `SELECT ${selected} FROM foundation_events${conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`} ORDER BY ${order} LIMIT ? OFFSET ?`;
    parameters.push(query.limit === Number.POSITIVE_INFINITY ? -1 : query.limit, query.offset);
    return { statement: prepared(source), parameters };
  };

  /*
   * UNPLACED. A row matching the query whose place in the query's order is damaged: a sequence
   * number below 1 or above 2^53 - 1 (text and blobs sort above every number), an id outside 1 to
   * 2^53 - 1, in timestamp order a timestamp below 0 or above the largest double (infinity, text).
   * No cursor can be past such a row: those sorting after every place sort after every row stored
   * later too, so a cursor past them would pass everything stored since, and those sorting before
   * every place are met again by every page from the start. A page cannot leave it out once, and
   * leaving it out of every page hid it, so a page that skips corrupt rows fails while one is
   * there, naming it (see querySkippingCorrupt). Ranges on the columns' indexes: one seek each,
   * finding nothing in a sound file. (A sequence number with a fraction sorts among the places:
   * the page that reaches it fails; see placeOf.)
   */
  const unplacedStatements = (query: NormalizedEventQuery): { statement: SqliteStatement; parameters: unknown[] }[] => {
    // Each a pair of ranges on one index, which SQLite seeks both of (a MULTI-INDEX OR); the
    // id's and the timestamp's in one statement made it scan the table instead.
    const ranges: [string, number][] = [];
    if (query.orderBy === 'stored') ranges.push(['(sequence < 1 OR sequence > ?)', Number.MAX_SAFE_INTEGER]);
    else ranges.push(['(id < 1 OR id > ?)', Number.MAX_SAFE_INTEGER]);
    if (query.orderBy === 'timestamp') ranges.push(['(timestamp < 0 OR timestamp > ?)', Number.MAX_VALUE]);
    return ranges.map(([range, highest]) => {
      const conditions = [range];
      const parameters: unknown[] = [highest];
      filterConditions(query, conditions, parameters, true);
      return { statement: prepared(`SELECT ${COLUMNS}, sequence FROM foundation_events WHERE ${conditions.join(' AND ')} LIMIT 1`), parameters };
    });
  };

  /** The error for a row read without a place in the query's order: it names the row and the column. */
  const unplacedError = (row: unknown, query: NormalizedEventQuery): EventDataCorruptionError => {
    const columns = row as unknown[];
    const id = columns[0];
    const identity = Number.isSafeInteger(id) ? (id as number) : undefined;
    let place: EventPlaceColumn = 'id';
    if (query.orderBy === 'stored') place = 'sequence';
    else if (query.orderBy === 'timestamp' && identity !== undefined && identity >= 1) place = 'timestamp';
    const value = columns[place === 'sequence' ? 8 : place === 'id' ? 0 : 4];
    const shown = typeof value === 'string' ? `'${value.slice(0, 40)}'` : typeof value === 'number' ? String(value) : `a ${typeof value === 'object' ? 'blob' : typeof value}`;
    return new EventDataCorruptionError(
      identity,
      `its ${place === 'sequence' ? 'sequence number' : place} (${shown}) is no place in the order by ${query.orderBy}, so no cursor can be past it and a page cannot leave it out: delete or repair the row`,
      undefined,
      undefined,
      place,
    );
  };

  /** A row read in the order of storage, with its number there (named by every error about the row). */
  const toStoredEvent = (row: unknown): StoredEvent => {
    const sequence = (row as unknown[])[8];
    const numbered = Number.isSafeInteger(sequence) && (sequence as number) >= 1;
    const event = toEvent(row, numbered ? (sequence as number) : undefined);
    if (!numbered) throw new EventDataCorruptionError(event.id, 'its sequence number is not a positive integer');
    return { event, sequence: sequence as number };
  };

  const queryStored = (query: NormalizedEventQuery): StoredEvent[] =>
    guarded('queryStored', () => {
      if (query.limit === 0) return [];
      // Rows an older version stored since this version last wrote wait for their number (see
      // numberUnsequenced): the query leaves them out rather than write.
      const { statement, parameters } = queryStatement(query);
      return statement.all(...parameters).map(toStoredEvent);
    });

  /**
   * Where a row stands in the query's order, as a cursor holds it, whether or not the row decodes:
   * its sequence number, its id, or its timestamp and id. undefined when that is itself damaged
   * (text, beyond 2^53, below 1, not finite): no cursor can be past such a row.
   */
  const placeOf = (row: unknown, query: NormalizedEventQuery): QueryPosition | undefined => {
    const columns = row as unknown[];
    const { orderBy, order } = query;
    if (orderBy === 'stored') {
      const sequence = columns[8];
      return Number.isSafeInteger(sequence) && (sequence as number) >= 1 ? { orderBy, order, id: 0, timestamp: 0, sequence: sequence as number } : undefined;
    }
    const id = columns[0];
    if (!Number.isSafeInteger(id) || (id as number) < 1) return undefined;
    const timestamp = columns[4];
    const placed = typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0;
    // In id order the timestamp is carried but not compared: 0 stands in for a damaged one.
    if (orderBy === 'id') return { orderBy, order, id: id as number, timestamp: placed ? timestamp : 0 };
    return placed ? { orderBy, order, id: id as number, timestamp } : undefined;
  };

  /*
   * A page that reads past rows that do not decode. Without it such a row failed every page
   * that reached it, in every order: a reader paging from a cursor could never get past it. Each
   * row left out is listed with the error a read of it throws, and the page's place moves past
   * it, so the next page starts after it. The page is filled from the rows after it, a round of
   * reads at a time, each round no longer than what is left of `limit` in events and in rows left
   * out, so the page ends once it holds `limit` events or has left out `limit` rows, having read
   * fewer than twice `limit` rows. A row whose place is itself damaged cannot be left out so
   * (see UNPLACED): while one matches the query, the page fails with an error that names it.
   * Such pages read no such row in silence, as they did (a reader never learnt of it).
   */
  const querySkippingCorrupt = (query: NormalizedEventQuery): SkippingAnswer =>
    guarded('querySkippingCorrupt', () => {
      const stored = query.orderBy === 'stored';
      const events: FoundationEvent[] = [];
      const sequences: number[] | undefined = stored ? [] : undefined;
      const skipped: EventDataCorruptionError[] = [];
      if (query.limit === 0) return { events, sequences, skipped, last: undefined };
      for (const { statement, parameters } of unplacedStatements(query)) {
        const found = statement.get(...parameters);
        if (found !== undefined) throw unplacedError(found, query);
      }
      let last: QueryPosition | undefined;
      let offset = query.offset;
      while (events.length < query.limit && skipped.length < query.limit) {
        const wanted = Math.min(query.limit - events.length, query.limit - skipped.length);
        const { statement, parameters } = queryStatement({ ...query, after: last ?? query.after, offset, limit: wanted }, true);
        const rows = statement.all(...parameters);
        offset = 0;
        for (const row of rows) {
          const place = placeOf(row, query);
          // A sequence number with a fraction, within the range of places (see UNPLACED).
          if (place === undefined) throw unplacedError(row, query);
          last = place;
          try {
            if (stored) {
              const { event, sequence } = toStoredEvent(row);
              events.push(event);
              sequences!.push(sequence);
            } else {
              events.push(toEvent(row));
            }
          } catch (error) {
            if (!(error instanceof EventDataCorruptionError)) throw error;
            skipped.push(error);
          }
        }
        if (rows.length < wanted) break;
      }
      return { events, sequences, skipped, last };
    });

  return {
    kind: 'sqlite',
    path,
    synchronous,
    append(events) {
      ensureOpen('append');
      if (events.length === 0) return 0;
      if (events.length > 1) {
        const seen = new Set<number>();
        for (const event of events) {
          if (seen.has(event.id)) throw new EventDuplicateError(event.id);
          seen.add(event.id);
        }
      }
      // Encoded before the transaction, so that data this storage could not read back (over
      // maxRowDataBytes, which a store's maxDataBytes may exceed) is refused, not acknowledged.
      const encoded = events.map((event) => encodeValue(event.data));
      for (const bytes of encoded) {
        if (bytes.length > maxRowDataBytes) {
          throw new EventValidationError('data', `${bytes.length} bytes is more than this SQLite storage reads back (maxRowDataBytes, ${maxRowDataBytes})`, {
            size: bytes.length,
            maxBytes: maxRowDataBytes,
          });
        }
      }
      try {
        appendBatch.immediate(events, encoded);
      } catch (error) {
        if (isConstraintError(error)) {
          // The transaction rolled back; name the id that was already there.
          const existing = events.find((event) => selectExists.get(event.id) !== undefined);
          if (existing !== undefined) throw new EventDuplicateError(existing.id);
        }
        throw new EventStorageError('append', error);
      }
      for (const event of events) {
        if (event.id > highestId) highestId = event.id;
        if (event.timestamp > highestTimestamp) highestTimestamp = event.timestamp;
      }
      return 0;
    },
    get(id) {
      return guarded('get', () => {
        const row = selectById.get(id);
        return row === undefined ? undefined : toEvent(row);
      });
    },
    query(query) {
      if (query.orderBy === 'stored') return queryStored(query).map(({ event }) => event);
      return guarded('query', () => {
        if (query.limit === 0) return [];
        const { statement, parameters } = queryStatement(query);
        return statement.all(...parameters).map((row) => toEvent(row));
      });
    },
    queryStored,
    querySkippingCorrupt,
    byCorrelation(correlationId, limit) {
      // LIMIT -1: every row.
      const rows = limit === undefined || limit === Number.POSITIVE_INFINITY ? -1 : limit;
      return guarded('byCorrelation', () => selectByCorrelation.all(correlationId, rows).map((row) => toEvent(row)));
    },
    recent(limit) {
      return guarded('recent', () => selectRecent.all(limit).map((row) => toEvent(row)));
    },
    pruneBefore(wallTime) {
      return guarded('pruneBefore', () => {
        const [prunable] = selectPrunable.get(wallTime) as [number];
        if (prunable === 0) return 0;
        // Immediate: it reads before it writes, and a read transaction that another connection's
        // commit overtakes cannot then write (SQLITE_BUSY, not waited out).
        pruneRows.immediate(wallTime);
        rememberedId = highestId;
        return pruned;
      });
    },
    // The file's count, not this connection's: other connections and processes store into the
    // same file and prune it.
    count() {
      return guarded('count', () => {
        const row = selectCount.get() as [unknown] | undefined;
        return fileNumber('the meta row event_count', row?.[0]);
      });
    },
    maxId() {
      return guarded('maxId', () => {
        highestId = Math.max(highestId, fileHighestId());
        return highestId;
      });
    },
    reserveIds(count) {
      ensureOpen('reserveIds');
      checkReserveCount(count);
      return guarded('reserveIds', () => {
        // A commit of its own, before the ids are handed out: with synchronous FULL it is on
        // disk when this returns; with NORMAL a power loss may roll it back, but then it rolls
        // back every later commit too, the events stored under these ids among them.
        const first = reserveBlock.immediate(count);
        if (first <= Number.MAX_SAFE_INTEGER) {
          highestId = Math.min(first + count - 1, Number.MAX_SAFE_INTEGER);
          rememberedId = highestId;
        }
        return first;
      });
    },
    // Other connections may have stored later timestamps since this one opened: each append
    // that raises the highest records it in the meta table (never lowering it), so the file's
    // highest is the larger of that row and what this connection knew (which covers a file from
    // before the row existed: its rows were scanned when this connection opened).
    maxTimestamp() {
      return guarded('maxTimestamp', () => {
        const remembered = selectRememberedTimestamp.get() as [unknown] | undefined;
        highestTimestamp = Math.max(highestTimestamp, fileNumber('the meta row max_timestamp', remembered?.[0], false));
        return highestTimestamp;
      });
    },
    sizeBytes() {
      return guarded('sizeBytes', () => {
        const pages = db.pragma('page_count', { simple: true }) as number;
        const pageSize = db.pragma('page_size', { simple: true }) as number;
        return pages * pageSize;
      });
    },
    integrityCheck() {
      return guarded('integrityCheck', () => (db.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check));
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
