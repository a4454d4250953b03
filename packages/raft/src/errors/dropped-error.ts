import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * The proposal certainly did not and will not take effect: the leader lost its term before the
 * entry committed and another entry took its place, or it never reached the log (a leadership
 * transfer in progress, a command that encodes to no bytes or to too many, or one the state
 * machine's `checkCommand` refused, as `cause`). A node that stops ends its calls with
 * StoppedError instead, which says whether the outcome is unknown.
 *
 * `refused`: the command itself was refused (by `checkCommand`, or for its encoding), so the same
 * command is refused again wherever it is proposed: the error says not to retry it, where one
 * dropped by a change of leader says to retry at once.
 */
export class DroppedError extends FoundationError {
  constructor(reason: string, options: { readonly refused?: boolean; readonly cause?: unknown } = {}) {
    const { refused = false, cause } = options;
    super({
      type: 'raft_dropped',
      code: RAFT_ERROR_CODES.dropped,
      category: 'system',
      retryStrategy: refused ? 'no_retry' : 'immediate',
      message: `proposal dropped: ${reason}`,
      context: { reason, refused },
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
