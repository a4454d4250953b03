import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The proposal certainly did not and will not take effect: the leader lost its term before the
 * entry committed and another entry took its place, or it never reached the log (a leadership
 * transfer in progress, a command that encodes to no bytes or to too many, or one the state
 * machine's `checkCommand` refused, as `cause`). A node that stops ends its calls with
 * StoppedError instead, which says whether the outcome is unknown.
 */
export class DroppedError extends FoundationError {
  constructor(reason: string, cause?: unknown) {
    super({
      type: 'raft_dropped',
      code: RAFT_ERROR_CODES.dropped,
      category: 'system',
      retryStrategy: 'immediate',
      message: `proposal dropped: ${reason}`,
      context: { reason },
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
