import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The write-ahead log is damaged somewhere other than its torn tail. Starting would risk losing
 * acknowledged writes, so the node refuses; `file` and `offset` say where the damage is.
 */
export class CorruptLogError extends FoundationError {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super({
      type: 'raft_corrupt_log',
      code: RAFT_ERROR_CODES.corruptLog,
      category: 'data',
      severity: 'critical',
      message: `write-ahead log ${file} is corrupt at offset ${offset}: ${reason}`,
      context: { file, offset, reason },
      recoveryActions: ['restore this node from a snapshot or remove it and add it back as a new member'],
    });
  }
}
