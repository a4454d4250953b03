import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `resource_exhausted` (2201): a memory store bounded with `whenFull: 'reject'` is full.
 * Nothing of the batch was stored.
 */
export class EventStorageFullError extends FoundationError {
  readonly maxEvents: number;

  constructor(maxEvents: number, incoming: number) {
    super({
      type: 'resource_exhausted',
      code: EVENT_ERROR_CODES.storageFull,
      message: `the event store holds its maximum of ${maxEvents} events; ${incoming} more refused (prune, or use whenFull: 'evict-oldest')`,
      context: { maxEvents, incoming },
    });
    this.maxEvents = maxEvents;
  }
}
