import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** The store (or its storage) was closed (5504). */
export class EventStoreClosedError extends FoundationError {
  constructor(operation: string) {
    super({
      type: 'event_store_closed',
      code: EVENT_ERROR_CODES.storeClosed,
      category: 'system',
      subcategory: 'runtime',
      message: `cannot ${operation}: the event store is closed`,
      context: { operation },
    });
  }
}
