import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/**
 * No answer in time. For a proposal the outcome is unknown: the command may still commit and
 * apply later (treat it as Jepsen's "info"); a read that times out had no effect.
 */
export class RaftTimeoutError extends FoundationError {
  constructor(what: string, timeoutMs: number) {
    super({
      type: 'raft_timeout',
      code: RAFT_ERROR_CODES.timeout,
      category: 'external',
      retryStrategy: 'exponential_backoff',
      message: `${what} did not complete within ${timeoutMs} ms; its outcome is unknown`,
      context: { what, timeoutMs },
    });
  }
}
