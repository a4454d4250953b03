import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/** The node was stopped; pending operations end with this error. */
export class StoppedError extends FoundationError {
  constructor(nodeId: string) {
    super({
      type: 'raft_stopped',
      code: RAFT_ERROR_CODES.stopped,
      category: 'system',
      message: `raft node ${nodeId} is stopped`,
      context: { nodeId },
    });
  }
}
