import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The proposal certainly did not and will not take effect: the leader lost its term before the
 * entry committed and another entry took its place, or the leader refused it (transfer in
 * progress, a membership change already pending, the node stopping).
 */
export class DroppedError extends FoundationError {
  constructor(reason: string) {
    super({
      type: 'raft_dropped',
      code: RAFT_ERROR_CODES.dropped,
      category: 'system',
      retryStrategy: 'immediate',
      message: `proposal dropped: ${reason}`,
      context: { reason },
    });
  }
}
