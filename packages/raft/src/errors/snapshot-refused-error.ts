import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The state machine cannot restore a snapshot; `cause` is what it threw. `from` is the node that
 * sent it: the node refused it and carries on, as it was (it neither wrote nor stepped it), and
 * the sender will send it again. Without `from`, the snapshot is the one on this node's disk,
 * and the node refuses to start: starting without it would drop committed state.
 */
export class SnapshotRefusedError extends FoundationError {
  constructor(
    readonly index: number,
    readonly term: number,
    readonly from: string | null,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super({
      type: 'raft_snapshot_refused',
      code: RAFT_ERROR_CODES.snapshotRefused,
      category: 'data',
      severity: from === null ? 'critical' : 'high',
      retryStrategy: 'no_retry',
      message:
        from === null
          ? `the snapshot on disk (index ${index}, term ${term}) cannot be restored by the state machine: ${reason}`
          : `refused a snapshot (index ${index}, term ${term}) from ${from} that the state machine cannot restore: ${reason}`,
      context: { index, term, from },
      cause,
      ...(from === null ? { recoveryActions: ['start with a state machine that reads this snapshot (the version that wrote it), or remove this node and add it back as a new member'] } : {}),
    });
  }
}
