import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * A membership change was refused: another is pending, the leader is new (it takes none before
 * the first entry of its term is applied), or it makes no sense for this membership.
 */
export class MembershipChangeError extends FoundationError {
  /** `pending`: refused only because an earlier change, or the leader's first entry, is not applied yet; trying later may work. */
  constructor(reason: string, pending = false) {
    super({
      type: 'raft_membership_change',
      code: RAFT_ERROR_CODES.membershipChange,
      category: 'system',
      retryStrategy: 'fixed_delay',
      message: `membership change refused: ${reason}`,
      context: { reason, pending },
    });
  }
}
