import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * A directory of the file storage (its own, or the log's or the snapshots' inside it) cannot be
 * made: `path` is a regular file, lies under one, or its parent may not be written. `cause` is
 * the file system's error. (A directory that exists but may not be written fails later, when a
 * file in it is opened, with the file system's own error.)
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
