import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * `startNode` was given a data directory that a live node (of this process or another on this
 * machine) uses: two nodes writing one Raft log would corrupt it.
 */
export class DataDirInUseError extends FoundationError {
  constructor(readonly dataDir: string) {
    super({
      type: 'data_dir_in_use',
      code: FOUNDATION_ERROR_CODES.dataDirInUse,
      category: 'config',
      message: `startNode: dataDir ${dataDir} is in use by another running node; give each node a directory of its own`,
      context: { dataDir },
    });
  }
}
