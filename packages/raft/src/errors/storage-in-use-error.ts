import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * Another file storage, of this process or of another live process on this machine, holds the
 * directory (it was loaded and not closed). Two storages writing one log overwrite each other's
 * acknowledged entries and votes, so the second is refused; close the first, or give each node
 * its own directory.
 */
export class StorageInUseError extends FoundationError {
  constructor(readonly directory: string) {
    super({
      type: 'raft_storage_in_use',
      code: RAFT_ERROR_CODES.storageInUse,
      category: 'config',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `raft storage directory ${directory} is held by another storage (of this process or another running one); close it first, or give each node its own directory`,
      context: { directory },
    });
  }
}
