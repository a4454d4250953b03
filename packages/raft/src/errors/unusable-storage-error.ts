import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * A directory of the file storage (its own, or the log's or the snapshots' inside it) cannot be
 * made or used: `path` is a regular file or lies under one, or it may not be written. `cause` is
 * the file system's error.
 */
export class UnusableStorageError extends FoundationError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super({
      type: 'raft_storage_unusable',
      code: RAFT_ERROR_CODES.unusableStorage,
      category: 'config',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `raft storage directory ${path} cannot be used: ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { path },
      cause,
    });
  }
}
