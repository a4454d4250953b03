import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A `setClusterWide` whose outcome this node cannot tell. Either it committed at `index`, and
 * this node installed a Raft snapshot taken at `snapshotIndex`, past it, instead of applying the
 * entry: the snapshot holds the values the cluster accepted, not what it made of each command.
 * Or the caller's signal aborted once the entry may have reached the log (`snapshotIndex` null,
 * the abort's reason as `cause`): committed at `index` and not applied here yet, or, with
 * `index` null, before the append answered (the entry may then be applied here already, as it
 * is on the leader, but which entry is the write's is not known). Either way the cluster may
 * have taken the value or refused it: read the value back to know. Not retryable: writing the
 * value again could overwrite what the cluster set after it while this node was behind.
 */
export class ClusterWriteOutcomeUnknownError extends FoundationError {
  constructor(
    readonly path: readonly string[],
    readonly index: number | null,
    readonly snapshotIndex: number | null,
    options: { readonly cause?: unknown } = {},
  ) {
    // Unanswered, the entry may have been applied here already (on the leader it applies before
    // the append is answered): only which entry is the write's is not known.
    const aborted = index === null ? 'sent to the log, and the caller aborted before the log answered' : `committed at log index ${index}, and the caller aborted before this node applied it`;
    const what = snapshotIndex !== null ? `committed at log index ${index}, which this node skipped by installing a snapshot taken at ${snapshotIndex}` : aborted;
    super({
      type: 'cluster_write_outcome_unknown',
      code: FOUNDATION_ERROR_CODES.clusterWriteOutcomeUnknown,
      category: 'system',
      retryStrategy: 'no_retry',
      message: `setClusterWide of ${path.join('.')}: ${what}, so it cannot tell whether the cluster took the value or refused it; read the value back (getWithConsensus)`,
      context: { path: [...path], index, snapshotIndex },
      cause: options.cause,
    });
  }
}
