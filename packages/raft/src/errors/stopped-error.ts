import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The node was stopped (or failed and stopped itself); pending operations end with this error.
 * `pending` names a proposal or membership change the node had already put in its log: it may
 * still commit and apply on the rest of the cluster, so its outcome is unknown (as with a
 * timeout), and `context.outcomeUnknown` is true. Without it the call certainly had no effect.
 */
export class StoppedError extends FoundationError {
  constructor(nodeId: string, pending?: 'proposal' | 'membership change', cause?: unknown) {
    super({
      type: 'raft_stopped',
      code: RAFT_ERROR_CODES.stopped,
      category: 'system',
      message:
        pending === undefined
          ? `raft node ${nodeId} is stopped`
          : `raft node ${nodeId} stopped before the ${pending} in its log completed; its outcome is unknown (it may still apply)`,
      context: { nodeId, outcomeUnknown: pending !== undefined },
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
