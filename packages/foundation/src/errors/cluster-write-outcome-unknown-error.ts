import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A `setClusterWide` committed at `index`, and this node installed a Raft snapshot taken at
 * `snapshotIndex`, past it, instead of applying the entry: the snapshot holds the values the
 * cluster accepted, not what it made of each command, so this node cannot tell whether the
 * cluster took the value or refused it. Read the value back to know. Not retryable: writing the
 * value again could overwrite what the cluster set after it while this node was behind.
 */
export class ClusterWriteOutcomeUnknownError extends FoundationError {
  constructor(
    readonly path: readonly string[],
    readonly index: number,
    readonly snapshotIndex: number,
  ) {
    super({
      type: 'cluster_write_outcome_unknown',
      code: FOUNDATION_ERROR_CODES.clusterWriteOutcomeUnknown,
      category: 'system',
      retryStrategy: 'no_retry',
      message: `setClusterWide of ${path.join('.')}: committed at log index ${index}, which this node skipped by installing a snapshot taken at ${snapshotIndex}, so it cannot tell whether the cluster took the value or refused it; read the value back (getWithConsensus)`,
      context: { path: [...path], index, snapshotIndex },
    });
  }
}
