import { FoundationError } from '@foundation/core';
import { CONTEXT_ERROR_CODES } from './codes';

/**
 * The deadline carried by the context has passed, so whoever asked for this work has stopped
 * waiting for it. Not retried: retrying cannot make the caller wait longer.
 */
export class DeadlineExceededError extends FoundationError {
  /** How far past the deadline the check ran, in milliseconds (≥ 0). */
  readonly overdueMs: number;

  constructor(overdueMs: number, correlationId?: string) {
    super({
      type: 'context_deadline_exceeded',
      code: CONTEXT_ERROR_CODES.deadlineExceeded,
      category: 'external',
      subcategory: 'timeout',
      severity: 'low',
      retryStrategy: 'no_retry',
      message: `the context deadline passed ${Math.round(overdueMs)} ms ago`,
      context: { overdueMs },
      ...(correlationId === undefined ? {} : { correlationId }),
    });
    this.overdueMs = overdueMs;
  }
}
