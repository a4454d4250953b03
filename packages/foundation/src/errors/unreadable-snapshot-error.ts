import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A Raft snapshot's part for one stream is not a list of commands in any shape this state
 * machine writes, so it is not restored: its listeners would hear it as commands.
 */
export class UnreadableSnapshotError extends FoundationError {
  constructor(
    readonly stream: string,
    reason: string,
  ) {
    super({
      type: 'unreadable_snapshot',
      code: FOUNDATION_ERROR_CODES.unreadableSnapshot,
      category: 'data',
      severity: 'critical',
      message: `snapshot cannot be restored: stream ${stream} ${reason}`,
      context: { stream, reason },
    });
  }
}
