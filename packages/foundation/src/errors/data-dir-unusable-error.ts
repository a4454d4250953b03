import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * `startNode` was given a data directory it cannot make or write: the path is a regular file or
 * lies under one, or this process may not write there. `cause` is the file system's error.
 */
export class DataDirUnusableError extends FoundationError {
  constructor(
    readonly dataDir: string,
    cause: unknown,
  ) {
    super({
      type: 'data_dir_unusable',
      code: FOUNDATION_ERROR_CODES.dataDirUnusable,
      category: 'config',
      message: `startNode: dataDir ${dataDir} cannot be used: ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { dataDir },
      cause,
    });
  }
}
