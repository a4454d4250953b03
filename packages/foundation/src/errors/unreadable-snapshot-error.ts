import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A Raft snapshot of the cluster state machine holds a part in no shape this state machine
 * writes (a stream's commands, the lock table, the proposal sessions, the applied index), so it
 * is not restored: its listeners would hear it as commands, or the state would hold what no
 * command can make. `stream` names the stream whose part it is, and is empty for the parts that
 * are not a stream's; `part` names it either way.
 */
export class UnreadableSnapshotError extends FoundationError {
  constructor(
    readonly stream: string,
    reason: string,
    readonly part: string = `stream ${stream}`,
  ) {
    super({
      type: 'unreadable_snapshot',
      code: FOUNDATION_ERROR_CODES.unreadableSnapshot,
      category: 'data',
      severity: 'critical',
      message: `snapshot cannot be restored: ${part} ${reason}`,
      context: { stream, part, reason },
    });
  }
}
