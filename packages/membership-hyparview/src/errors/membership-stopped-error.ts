import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/** The membership has left the cluster (or never joined and was stopped). */
export class MembershipStoppedError extends FoundationError {
  readonly node: string;

  constructor(node: string, operation: string) {
    super({
      type: 'membership_stopped',
      code: MEMBERSHIP_ERROR_CODES.stopped,
      category: 'system',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `membership of node "${node}" is stopped: cannot ${operation}`,
      context: { node, operation },
    });
    this.node = node;
  }
}
