import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/**
 * Code 5607: the consensus log did not take a command (no leader, no quorum, stopped). Whether
 * the command was applied is unknown, as the log's contract says; the cause is the log's error.
 * Retry with backoff: claims and releases are idempotent.
 */
export class ConsensusFailedError extends FoundationError {
  readonly operation: string;

  constructor(operation: string, cause: unknown) {
    super({
      type: 'consensus_failed',
      code: REGISTRY_ERROR_CODES.consensusFailed,
      category: 'system',
      retryStrategy: 'exponential_backoff',
      message: `${operation}: the consensus log failed (${cause instanceof Error ? cause.message : String(cause)}); the outcome is unknown`,
      context: { operation },
      cause,
    });
    this.operation = operation;
  }
}
