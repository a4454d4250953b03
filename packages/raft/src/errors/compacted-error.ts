import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/** A log position below the latest snapshot was asked for; the entries there are gone. */
export class CompactedError extends FoundationError {
  constructor(
    readonly index: number,
    readonly snapshotIndex: number,
  ) {
    super({
      type: 'raft_compacted',
      code: RAFT_ERROR_CODES.compacted,
      category: 'data',
      message: `log index ${index} is compacted (the snapshot covers up to ${snapshotIndex})`,
      context: { index, snapshotIndex },
    });
  }
}
