import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * The storage failed (disk full, I/O error, a database locked by another process) (5503). For
 * writes, nothing of the batch was stored: the transaction was rolled back.
 */
export class EventStorageError extends FoundationError {
  readonly operation: string;

  constructor(operation: string, cause: unknown) {
    super({
      type: 'event_storage_failed',
      code: EVENT_ERROR_CODES.storageFailed,
      category: 'system',
      subcategory: 'storage',
      severity: 'high',
      message: `event storage failed during ${operation}: ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { operation, ...(typeof (cause as { code?: unknown } | null)?.code === 'string' ? { driverCode: (cause as { code: string }).code } : {}) },
      cause,
    });
    this.operation = operation;
  }
}
