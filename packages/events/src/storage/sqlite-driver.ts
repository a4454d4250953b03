// The part of better-sqlite3 the SQLite storage uses, as a structural type (so the published
// declarations do not depend on @types/better-sqlite3), and its lazy loader: memory-store users
// never load, or need, better-sqlite3.
import { SqliteUnavailableError } from '../errors/sqlite-unavailable-error';

export interface SqliteRunResult {
  readonly changes: number;
}

export interface SqliteStatement {
  run(...parameters: unknown[]): SqliteRunResult;
  get(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): unknown[];
  /** Rows as arrays of column values instead of objects. */
  raw(toggle?: boolean): this;
}

/** A function that runs its body in a transaction (BEGIN, or BEGIN IMMEDIATE through `immediate`). */
export interface SqliteTransaction<Arguments extends unknown[], Result> {
  (...parameters: Arguments): Result;
  /** Takes the write lock at BEGIN, so nothing another connection writes comes between what the body reads and writes. */
  immediate(...parameters: Arguments): Result;
}

export interface SqliteDatabase {
  readonly open: boolean;
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  pragma(source: string, options?: { readonly simple?: boolean }): unknown;
  transaction<Arguments extends unknown[], Result = void>(body: (...parameters: Arguments) => Result): SqliteTransaction<Arguments, Result>;
  close(): unknown;
}

/** better-sqlite3's `Database` class, or anything with its shape. */
export type SqliteDatabaseConstructor = new (
  filename: string,
  options?: { readonly readonly?: boolean; readonly fileMustExist?: boolean; readonly timeout?: number },
) => SqliteDatabase;

/** Imports better-sqlite3 on first use; SqliteUnavailableError (2301) when it is not installed. */
export async function loadBetterSqlite3(): Promise<SqliteDatabaseConstructor> {
  try {
    const imported = (await import('better-sqlite3')) as unknown as { default?: unknown };
    const constructor = typeof imported.default === 'function' ? imported.default : imported;
    if (typeof constructor !== 'function') throw new TypeError('better-sqlite3 did not export a Database class');
    return constructor as SqliteDatabaseConstructor;
  } catch (error) {
    throw new SqliteUnavailableError(error);
  }
}
