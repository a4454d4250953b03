import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `dependency_failed` (2301): the SQLite store needs better-sqlite3, an optional peer
 * dependency, and it is not installed or its native module did not load.
 */
export class SqliteUnavailableError extends FoundationError {
  constructor(cause: unknown) {
    super({
      type: 'dependency_failed',
      code: EVENT_ERROR_CODES.dependencyMissing,
      message: `the SQLite event storage needs better-sqlite3 (npm install better-sqlite3@12): ${cause instanceof Error ? cause.message : String(cause)}`,
      recoveryActions: ['npm install better-sqlite3@12'],
      cause,
    });
  }
}
