import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * A call reached a node whose `start()` was not called or has not finished loading its state yet;
 * the call had no effect. Await `start()` first.
 */
export class NotStartedError extends FoundationError {
  constructor(readonly nodeId: string) {
    super({
      type: 'raft_not_started',
      code: RAFT_ERROR_CODES.notStarted,
      category: 'system',
      retryStrategy: 'fixed_delay',
      message: `raft node ${nodeId} is not started: await start() before calling it`,
      context: { nodeId },
    });
  }
}
